// The office console: reads and drives the three services' APIs with the staff member's own token.
// No framework and no build step: one file, small functions, DOM built with textContent (never innerHTML
// with data), so nothing a resident typed can run as script here. Every word it shows comes from i18n.js
// (Bahasa Indonesia unless the staff member switched to English): t(key) and i18n.named(group, value).
"use strict";

const state = {
  token: sessionStorage.getItem("ektp-token") || "", services: {}, view: "overview", timer: null,
  shown: {},        // view → its last answers, to draw again in another language without asking the APIs again
  message: null,    // { key, vars } the console wrote, or { text } an API answered
};
const t = i18n.t;

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else if (value !== undefined && value !== null) node.setAttribute(key, value);
  }
  for (const child of children.flat()) node.append(child instanceof Node ? child : String(child ?? ""));
  return node;
}

// say(text): an API's words, as they came; sayKey(key, vars): the console's own, in the chosen language.
function say(text) { state.message = text ? { text } : null; showMessage(); }
function sayKey(key, vars) { state.message = { key, vars }; showMessage(); }
function showMessage() {
  const message = state.message;
  document.getElementById("message").textContent = !message ? "" : message.key ? t(message.key, message.vars) : message.text;
}

function claims(token) {
  try {
    const payload = token.split(".")[1].replace(/-/g, "+").replace(/_/g, "/");
    return JSON.parse(atob(payload));
  } catch { return null; }
}

async function api(service, path, options = {}) {
  const response = await fetch(state.services[service] + path, {
    ...options,
    headers: { "Authorization": "Bearer " + state.token, "Content-Type": "application/json", ...(options.headers || {}) },
  });
  if (response.status === 401) { signOut("msg.token_refused"); throw new Error("401"); }
  const body = response.status === 204 ? null : await response.json().catch(() => null);
  if (!response.ok) {
    const fields = (body && body.errors || []).map(e => `${e.field}: ${e.reason}`).join("; ");
    throw new Error(`${service}: ${body && (body.detail || body.title) || response.status}${fields ? " (" + fields + ")" : ""}`);
  }
  return body;
}

// Every time a person reads is the office's time (WIB): the services send UTC instants (ISO 8601 with a zone).
// Written the chosen language's way (id-ID, en-GB), always in Asia/Jakarta; true/false as words.
const INSTANT = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})$/;
function shown(value) {
  if (typeof value === "boolean") return t(value ? "yes" : "no");
  if (typeof value !== "string" || !INSTANT.test(value)) return value;
  const when = new Date(value).toLocaleString(t("locale"), { timeZone: "Asia/Jakarta", dateStyle: "medium", timeStyle: "short" });
  return `${when} ${t("zone")}`;
}

function definitions(target, data, keys) {
  const dl = document.getElementById(target);
  dl.replaceChildren();
  if (!data) return;
  for (const key of keys) {
    if (data[key] === undefined) continue;
    dl.append(el("dt", {}, i18n.named("field", key)), el("dd", { "data-key": key }, shown(data[key]) ?? "–"));
  }
}

function table(target, rows, columns) {
  // columns: [[heading, row => text or Node], …]
  const node = document.getElementById(target);
  node.replaceChildren(el("tr", {}, columns.map(([heading]) => el("th", {}, heading))));
  for (const row of rows) node.append(el("tr", {}, columns.map(([, cell]) => el("td", {}, cell(row)))));
  if (!rows.length) node.append(el("tr", {}, el("td", { colspan: columns.length, class: "empty" }, t("empty"))));
}

const items = body => Array.isArray(body) ? body : (body && body.items) || [];

function printerColumns(withActions) {
  const columns = [
    [t("col.printer"), p => p.name],
    [t("col.state"), p => el("span", { class: "state-" + p.state, title: p.state }, i18n.named("printer_state", p.state))],
    [t("col.reasons"), p => (p.reasons || []).map(r => i18n.named("printer_reason", r)).join(", ") || "–"],
    [t("col.ribbon_left"), p => (p.supplies || {}).ribbon_left ?? "–"],
    [t("col.cards_printed"), p => (p.supplies || {}).cards_printed ?? p.cards_printed ?? "–"],
    [t("col.cards_per_hour"), p => Math.round(p.cards_per_hour || 0)],
  ];
  if (withActions) {
    columns.push(["", p => el("span", {},
      el("button", { class: "action", onclick: () => act("gateway", `/v1/printers/${p.id}/pause`) }, t("action.pause")),
      el("button", { class: "action", onclick: () => act("gateway", `/v1/printers/${p.id}/resume`) }, t("action.resume")),
      el("button", { class: "action", onclick: () => act("gateway", `/v1/printers/${p.id}/commission`) }, t("action.commission")))]);
  }
  return columns;
}

// A change the staff member asked for: the call, then what to say (done) and the view drawn again; the
// problem's words when it is refused.
async function act(service, path, body = {}, { method = "POST", done = () => say("") } = {}) {
  try { await api(service, path, { method, body: JSON.stringify(body) }); done(); await refresh(); }
  catch (error) { say(error.message); }
}

// Each view: load() asks the APIs, draw(data) fills the page from the answers (again when the language changes).
const views = {
  overview: {
    async load() {
      return Promise.allSettled([
        api("request", "/v1/queue/stats"), api("inventory", "/v1/stock"),
        api("inventory", "/v1/forecast"), api("gateway", "/v1/printers"),
      ]);
    },
    draw([queue, stock, forecast, printers]) {
      definitions("queue-stats", queue.value, ["queued", "urgent_queued", "regular_queued", "printing", "needs_review", "printed_today", "daily_capacity"]);
      definitions("stock-summary", stock.value, ["received", "available", "reserved", "consumed", "spoiled", "urgent_reserve"]);
      definitions("forecast", forecast.value, ["rate_per_day", "days_of_cover", "projected_stock_out_on", "backlog", "shortfall", "reorder_point", "suggested_quantity"]);
      table("overview-printers", items(printers.value), printerColumns(false));
      const failed = [queue, stock, forecast, printers].filter(r => r.status === "rejected");
      say(failed.map(r => r.reason.message).join("; "));
    },
  },

  requests: {
    async load() {
      const form = new FormData(document.getElementById("request-filter"));
      const query = new URLSearchParams({ limit: "100" });
      for (const [key, value] of form) if (value.trim()) query.set(key, value.trim());
      // Every look at residents' data is on record with its purpose; a NIK search must give one (UU 27/2022 PDP).
      if (query.has("nik") && !query.has("purpose")) query.set("purpose", "pelayanan");
      return api("request", "/v1/requests?" + query);
    },
    draw(page) {
      table("request-list", items(page), [
        [t("col.request"), r => r.id],
        [t("col.name"), r => r.name || (r.card || {}).name || ""],
        [t("col.kecamatan"), r => kecamatan(r)],
        [t("col.priority"), r => i18n.named("priority", r.priority)],
        [t("col.status"), r => el("span", { class: r.status === "needs_review" ? "bad" : "", "data-status": r.status }, i18n.named("status", r.status))],
        [t("col.serial"), r => r.card_serial || "–"],
        ["", r => requestActions(r)],
      ]);
      document.getElementById("request-total").textContent = t("requests.total", { count: page.total ?? items(page).length });
    },
  },

  printers: {
    async load() { return api("gateway", "/v1/printers"); },
    draw(printers) { table("printer-list", items(printers), printerColumns(true)); },
  },

  stock: {
    async load() { return api("inventory", "/v1/stock/invariant"); },
    draw(invariant) {
      document.getElementById("invariant").replaceChildren(
        el("span", { class: invariant.holds ? "ok" : "bad" }, t(invariant.holds ? "stock.holds" : "stock.broken")),
        t("stock.sentence", invariant));
      const tranches = invariant.tranches || [];
      const keys = tranches.length ? Object.keys(tranches[0]).filter(k => typeof tranches[0][k] !== "object") : [];
      table("tranches", tranches, keys.map(k => [i18n.named("field", k), row => shown(row[k])]));
    },
  },

  users: {
    async load() {
      state.regions = state.regions || await api("request", "/v1/regions");
      return api("request", "/v1/users");
    },
    draw(users) {
      const select = document.querySelector("#user-form select[name=kecamatan]");
      const chosen = select.value;
      select.replaceChildren(el("option", { value: "" }, "–"),
        ...state.regions.kecamatan.map(k => el("option", { value: k.code }, `${k.name} (${k.code})`)));
      select.value = chosen;
      table("user-list", users, [
        [t("col.username"), u => u.username],
        [t("col.name"), u => u.full_name || "–"],
        [t("col.role"), u => i18n.named("role", u.role)],
        [t("col.kecamatan"), u => u.kecamatan.map(kecamatanName).join(", ") || "–"],
        [t("col.account"), u => el("span", { class: u.disabled || u.locked_until ? "bad" : "ok" },
          t(u.disabled ? "user.disabled" : u.locked_until ? "user.locked" : "user.active"))],
        [t("col.last_sign_in"), u => u.last_sign_in_at ? shown(u.last_sign_in_at) : "–"],
        ["", u => userActions(u)],
      ]);
    },
  },

  coverage: {
    async load() { return api("request", "/v1/coverage"); },
    draw(body) {
      const rows = body.kecamatan || items(body);
      const keys = rows.length ? Object.keys(rows[0]).filter(k => typeof rows[0][k] !== "object") : [];
      table("coverage-table", body.regency ? rows.concat([{ ...body.regency, name: t("coverage.regency_total") }]) : rows,
        keys.map(k => [i18n.named("field", k), r => shown(r[k]) ?? ""]));
    },
  },
};

// A listed request carries its card, with the kecamatan's name resolved from the region reference data.
function kecamatan(r) {
  const card = r.card || {};
  const code = card.kecamatan_code || r.kecamatan_code || "";
  const name = card.kecamatan || "";
  if (!name) return code;
  return el("span", {}, name, code ? el("small", { class: "code" }, " " + code) : "");
}

function kecamatanName(code) {
  const found = ((state.regions || {}).kecamatan || []).find(k => k.code === code);
  return found ? `${found.name} (${code})` : code;
}

// An admin's changes to a staff account: PATCH /v1/users/{username} (a new password also unlocks it).
function changeUser(username, body) {
  return act("request", `/v1/users/${encodeURIComponent(username)}`, body,
    { method: "PATCH", done: () => sayKey("msg.user_changed", { username }) });
}

function userActions(u) {
  const password = el("input", { type: "password", placeholder: t("user.new_password"), size: 14, minlength: 10, autocomplete: "new-password", name: "new-password" });
  return el("span", {},
    el("button", { class: "action", name: "toggle", onclick: () => changeUser(u.username, { disabled: !u.disabled }) }, t(u.disabled ? "action.enable" : "action.disable")),
    password,
    el("button", { class: "action", name: "set-password", onclick: () => changeUser(u.username, { password: password.value }) }, t("action.set_password")));
}

async function addUser(event) {
  event.preventDefault();
  const form = event.target;
  const data = Object.fromEntries(new FormData(form));
  const body = { username: data.username.trim().toLowerCase(), full_name: data.full_name.trim(), role: data.role, password: data.password,
    kecamatan: data.role === "clerk" && data.kecamatan ? [data.kecamatan] : [] };
  await act("request", "/v1/users", body, { done: () => { form.reset(); sayKey("msg.user_added", { username: body.username }); } });
}

function requestActions(r) {
  if (r.status === "needs_review") {
    const serial = el("input", { placeholder: t("serial.placeholder"), size: 16 });
    return el("span", {}, serial,
      el("button", { class: "action", onclick: () => act("request", `/v1/requests/${r.id}/resolve`, { outcome: "printed", card_serial: serial.value }) }, t("action.printed")),
      el("button", { class: "action", onclick: () => act("request", `/v1/requests/${r.id}/resolve`, { outcome: "not_printed" }) }, t("action.not_printed")));
  }
  if (r.status === "printed") {
    const serial = el("input", { placeholder: t("serial.placeholder"), size: 16, name: "activate-serial" });
    return el("span", {}, serial,
      el("button", { class: "action", onclick: () => act("request", `/v1/requests/${r.id}/activate`, { card_serial: serial.value }) }, t("action.activate")));
  }
  return "";
}

async function refresh() {
  const view = state.view;
  try {
    const data = await views[view].load();
    state.shown[view] = data;
    if (state.view === view) views[view].draw(data);
  } catch (error) { if (error.message !== "401") say(error.message); }
}

// The language switch: the page's fixed text at once, then the view on show drawn again from its last answers
// (no second look at residents' data for a change of words), the header and the last message too.
function setLanguage(lang) {
  i18n.set(lang);
  if (state.token) {
    showWho();
    if (state.shown[state.view] !== undefined) views[state.view].draw(state.shown[state.view]);
  }
  showMessage();
}

function showWho() {
  const who = claims(state.token);
  document.getElementById("who").textContent = who ? `${who.sub} (${i18n.named("role", who.role)})` : "";
}

function show(view) {
  state.view = view;
  for (const section of document.querySelectorAll(".view")) section.hidden = section.id !== view;
  for (const button of document.querySelectorAll("#tabs button")) button.classList.toggle("active", button.dataset.view === view);
  refresh();
}

function signOut(messageKey) {
  sessionStorage.removeItem("ektp-token");
  state.token = "";
  state.shown = {};
  clearInterval(state.timer);
  document.getElementById("signin").hidden = false;
  document.getElementById("tabs").hidden = true;
  document.getElementById("signout").hidden = true;
  document.getElementById("who").textContent = "";
  for (const section of document.querySelectorAll(".view")) section.hidden = true;
  sayKey(messageKey);
}

function signIn(token) {
  const who = claims(token);
  if (!who) { sayKey("msg.not_a_token"); return; }
  state.token = token;
  sessionStorage.setItem("ektp-token", token);
  showWho();
  say("");
  document.getElementById("signin").hidden = true;
  document.getElementById("tabs").hidden = false;
  document.getElementById("signout").hidden = false;
  // Staff accounts are an admin's: the tab is not shown to anyone else (and the API refuses them anyway).
  document.querySelector("#tabs button[data-view=users]").hidden = who.role !== "admin";
  show("overview");
  state.timer = setInterval(() => { if (state.view === "overview" || state.view === "printers") refresh(); }, 5000);
}

// OAuth2's password grant: the request service answers a working day's token for the staff member.
async function passwordSignIn(username, password) {
  const response = await fetch(state.services.request + "/v1/auth/token", {
    method: "POST",
    headers: { "Content-Type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({ grant_type: "password", username, password }),
  }).catch(() => null);
  document.getElementById("password").value = "";
  if (!response) { sayKey("msg.sign_in_failed", { status: "—" }); return; }
  if (response.status === 429) {
    sayKey("msg.locked", { minutes: Math.ceil(Number(response.headers.get("Retry-After") || 60) / 60) });
    return;
  }
  const body = await response.json().catch(() => null);
  if (response.status === 400) { sayKey("msg.wrong_password"); return; }
  if (!response.ok || !body || !body.access_token) { sayKey("msg.sign_in_failed", { status: response.status }); return; }
  signIn(body.access_token);
}

async function start() {
  i18n.apply();
  for (const button of document.querySelectorAll("#language button")) {
    button.addEventListener("click", () => setLanguage(button.dataset.lang));
  }
  document.getElementById("signout").addEventListener("click", () => {
    // On record at the request service (best effort: the page forgets the token whatever it answers).
    fetch(state.services.request + "/v1/auth/sign-out", { method: "POST", headers: { "Authorization": "Bearer " + state.token } })
      .catch(() => null).finally(() => signOut("msg.signed_out"));
  });
  const config = await fetch("config.json").then(r => r.json());
  const host = location.hostname;
  const fallback = { request: location.origin, inventory: `${location.protocol}//${host}:8002`, gateway: `${location.protocol}//${host}:8003` };
  for (const name of ["request", "inventory", "gateway"]) state.services[name] = config.services[name] || fallback[name];
  document.getElementById("signin-form").addEventListener("submit", event => {
    event.preventDefault();
    passwordSignIn(document.getElementById("username").value.trim().toLowerCase(), document.getElementById("password").value);
  });
  document.getElementById("request-filter").addEventListener("submit", event => { event.preventDefault(); refresh(); });
  document.getElementById("user-form").addEventListener("submit", addUser);
  for (const button of document.querySelectorAll("#tabs button")) button.addEventListener("click", () => show(button.dataset.view));
  if (state.token) signIn(state.token);
}

start();
