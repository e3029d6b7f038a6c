// The office console: reads and drives the three services' APIs with the staff member's own token.
// No framework and no build step: one file, small functions, DOM built with textContent (never innerHTML
// with data), so nothing a resident typed can run as script here.
"use strict";

const state = { token: sessionStorage.getItem("ektp-token") || "", services: {}, view: "overview", timer: null };

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else if (value !== undefined && value !== null) node.setAttribute(key, value);
  }
  for (const child of children.flat()) node.append(child instanceof Node ? child : String(child ?? ""));
  return node;
}

function say(text) { document.getElementById("message").textContent = text || ""; }

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
  if (response.status === 401) { signOut("Your token was refused or has expired: sign in again."); throw new Error("401"); }
  const body = response.status === 204 ? null : await response.json().catch(() => null);
  if (!response.ok) {
    const fields = (body && body.errors || []).map(e => `${e.field}: ${e.reason}`).join("; ");
    throw new Error(`${service}: ${body && (body.detail || body.title) || response.status}${fields ? " (" + fields + ")" : ""}`);
  }
  return body;
}

// Every time a person reads is the office's time (WIB): the services send UTC instants (ISO 8601 with a zone).
const INSTANT = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})$/;
function shown(value) {
  if (typeof value !== "string" || !INSTANT.test(value)) return value;
  return new Date(value).toLocaleString("id-ID", { timeZone: "Asia/Jakarta", dateStyle: "medium", timeStyle: "short" }) + " WIB";
}

function definitions(target, data, keys) {
  const dl = document.getElementById(target);
  dl.replaceChildren();
  if (!data) return;
  for (const key of keys) {
    if (data[key] === undefined) continue;
    dl.append(el("dt", {}, key.replace(/_/g, " ")), el("dd", { "data-key": key }, shown(data[key]) ?? "–"));
  }
}

function table(target, rows, columns) {
  // columns: [[heading, row => text or Node], …]
  const node = document.getElementById(target);
  node.replaceChildren(el("tr", {}, columns.map(([heading]) => el("th", {}, heading))));
  for (const row of rows) node.append(el("tr", {}, columns.map(([, cell]) => el("td", {}, cell(row)))));
  if (!rows.length) node.append(el("tr", {}, el("td", { colspan: columns.length }, "nothing here")));
}

const items = body => Array.isArray(body) ? body : (body && body.items) || [];

function printerColumns(withActions) {
  const columns = [
    ["Printer", p => p.name],
    ["State", p => el("span", { class: "state-" + p.state }, p.state)],
    ["Reasons", p => (p.reasons || []).join(", ") || "–"],
    ["Ribbon left", p => (p.supplies || {}).ribbon_left ?? "–"],
    ["Cards printed", p => (p.supplies || {}).cards_printed ?? p.cards_printed ?? "–"],
    ["Cards/hour", p => Math.round(p.cards_per_hour || 0)],
  ];
  if (withActions) {
    columns.push(["", p => el("span", {},
      el("button", { class: "action", onclick: () => act("gateway", `/v1/printers/${p.id}/pause`) }, "Pause"),
      el("button", { class: "action", onclick: () => act("gateway", `/v1/printers/${p.id}/resume`) }, "Resume"),
      el("button", { class: "action", onclick: () => act("gateway", `/v1/printers/${p.id}/commission`) }, "Commission"))]);
  }
  return columns;
}

async function act(service, path, body = {}) {
  try { await api(service, path, { method: "POST", body: JSON.stringify(body) }); say(""); await refresh(); }
  catch (error) { say(error.message); }
}

const views = {
  async overview() {
    const [queue, stock, forecast, printers] = await Promise.allSettled([
      api("request", "/v1/queue/stats"), api("inventory", "/v1/stock"),
      api("inventory", "/v1/forecast"), api("gateway", "/v1/printers"),
    ]);
    definitions("queue-stats", queue.value, ["queued", "urgent_queued", "regular_queued", "printing", "needs_review", "printed_today", "daily_capacity"]);
    definitions("stock-summary", stock.value, ["received", "available", "reserved", "consumed", "spoiled", "urgent_reserve"]);
    definitions("forecast", forecast.value, ["rate_per_day", "days_of_cover", "projected_stock_out_on", "backlog", "shortfall", "reorder_point", "suggested_quantity"]);
    table("overview-printers", items(printers.value), printerColumns(false));
    const failed = [queue, stock, forecast, printers].filter(r => r.status === "rejected");
    say(failed.map(r => r.reason.message).join("; "));
  },

  async requests() {
    const form = new FormData(document.getElementById("request-filter"));
    const query = new URLSearchParams({ limit: "100" });
    for (const [key, value] of form) if (value.trim()) query.set(key, value.trim());
    // Every look at residents' data is on record with its purpose; a NIK search must give one (UU 27/2022 PDP).
    if (query.has("nik") && !query.has("purpose")) query.set("purpose", "pelayanan");
    const page = await api("request", "/v1/requests?" + query);
    table("request-list", items(page), [
      ["Request", r => r.id],
      ["Name", r => r.name || (r.card || {}).name || ""],
      ["Kecamatan", r => r.kecamatan_code || ""],
      ["Priority", r => r.priority || ""],
      ["Status", r => el("span", { class: r.status === "needs_review" ? "bad" : "" }, r.status)],
      ["Card serial", r => r.card_serial || "–"],
      ["", r => requestActions(r)],
    ]);
    document.getElementById("request-total").textContent = `${page.total ?? items(page).length} request(s)`;
  },

  async printers() { table("printer-list", items(await api("gateway", "/v1/printers")), printerColumns(true)); },

  async stock() {
    const invariant = await api("inventory", "/v1/stock/invariant");
    const text = `received ${invariant.received} = available ${invariant.available} + reserved ${invariant.reserved}` +
      ` + consumed ${invariant.consumed} + spoiled ${invariant.spoiled}`;
    document.getElementById("invariant").replaceChildren(
      el("span", { class: invariant.holds ? "ok" : "bad" }, invariant.holds ? "holds: " : "BROKEN: "), text);
    const tranches = invariant.tranches || [];
    const keys = tranches.length ? Object.keys(tranches[0]).filter(k => typeof tranches[0][k] !== "object") : [];
    table("tranches", tranches, keys.map(k => [k.replace(/_/g, " "), t => shown(t[k])]));
  },

  async coverage() {
    const body = await api("request", "/v1/coverage");
    const rows = body.kecamatan || items(body);
    const keys = rows.length ? Object.keys(rows[0]).filter(k => typeof rows[0][k] !== "object") : [];
    table("coverage-table", body.regency ? rows.concat([{ ...body.regency, name: "Regency total" }]) : rows,
      keys.map(k => [k.replace(/_/g, " "), r => shown(r[k]) ?? ""]));
  },
};

function requestActions(r) {
  if (r.status === "needs_review") {
    const serial = el("input", { placeholder: "serial on the card", size: 14 });
    return el("span", {}, serial,
      el("button", { class: "action", onclick: () => act("request", `/v1/requests/${r.id}/resolve`, { outcome: "printed", card_serial: serial.value }) }, "Printed"),
      el("button", { class: "action", onclick: () => act("request", `/v1/requests/${r.id}/resolve`, { outcome: "not_printed" }) }, "Not printed"));
  }
  if (r.status === "printed") {
    const serial = el("input", { placeholder: "serial on the card", size: 14, name: "activate-serial" });
    return el("span", {}, serial,
      el("button", { class: "action", onclick: () => act("request", `/v1/requests/${r.id}/activate`, { card_serial: serial.value }) }, "Activate"));
  }
  return "";
}

async function refresh() {
  try { await views[state.view](); } catch (error) { if (error.message !== "401") say(error.message); }
}

function show(view) {
  state.view = view;
  for (const section of document.querySelectorAll(".view")) section.hidden = section.id !== view;
  for (const button of document.querySelectorAll("#tabs button")) button.classList.toggle("active", button.dataset.view === view);
  refresh();
}

function signOut(message) {
  sessionStorage.removeItem("ektp-token");
  state.token = "";
  clearInterval(state.timer);
  document.getElementById("signin").hidden = false;
  document.getElementById("tabs").hidden = true;
  for (const section of document.querySelectorAll(".view")) section.hidden = true;
  say(message);
}

function signIn(token) {
  const who = claims(token);
  if (!who) { say("That is not a token."); return; }
  state.token = token;
  sessionStorage.setItem("ektp-token", token);
  document.getElementById("who").textContent = `${who.sub} (${who.role})`;
  document.getElementById("signin").hidden = true;
  document.getElementById("tabs").hidden = false;
  show("overview");
  state.timer = setInterval(() => { if (state.view === "overview" || state.view === "printers") refresh(); }, 5000);
}

async function start() {
  const config = await fetch("config.json").then(r => r.json());
  const host = location.hostname;
  const fallback = { request: location.origin, inventory: `${location.protocol}//${host}:8002`, gateway: `${location.protocol}//${host}:8003` };
  for (const name of ["request", "inventory", "gateway"]) state.services[name] = config.services[name] || fallback[name];
  document.getElementById("signin-form").addEventListener("submit", event => {
    event.preventDefault();
    signIn(document.getElementById("token").value.trim());
  });
  document.getElementById("request-filter").addEventListener("submit", event => { event.preventDefault(); refresh(); });
  for (const button of document.querySelectorAll("#tabs button")) button.addEventListener("click", () => show(button.dataset.view));
  if (state.token) signIn(state.token);
}

start();
