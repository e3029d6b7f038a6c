// What every view of the console shares: the session's state, building DOM, calling the APIs, saying things,
// tables and definition lists, and the registry of views (each module adds its own with register()).
// No framework and no build step: ES modules the browser loads as they are. DOM is built with textContent
// (never innerHTML with data), so nothing a resident typed can run as script here. Every word shown comes from
// i18n.js (Bahasa Indonesia unless the staff member switched to English).
import { i18n, t } from "./i18n.js";

export { i18n, t };

export const state = {
  token: sessionStorage.getItem("ektp-token") || "", services: {}, view: "overview", timer: null,
  shown: {},        // view → its last answers, to draw again in another language without asking the APIs again
  message: null,    // { key, vars } the console wrote, or { text } an API answered
};

// Each view: load() asks the APIs, draw(data) fills the page from the answers (again when the language changes).
export const views = {};
export function register(name, view) { views[name] = view; }

export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else if (value !== undefined && value !== null && value !== false) node.setAttribute(key, value === true ? "" : value);
  }
  for (const child of children.flat()) node.append(child instanceof Node ? child : String(child ?? ""));
  return node;
}

// say(text): an API's words, as they came; sayKey(key, vars): the console's own, in the chosen language.
export function say(text) { state.message = text ? { text } : null; showMessage(); }
export function sayKey(key, vars) { state.message = { key, vars }; showMessage(); }
export function showMessage() {
  const message = state.message;
  document.getElementById("message").textContent = !message ? "" : message.key ? t(message.key, message.vars) : message.text;
}

export function claims(token) {
  try {
    const payload = token.split(".")[1].replace(/-/g, "+").replace(/_/g, "/");
    return JSON.parse(atob(payload));
  } catch { return null; }
}

// The main.js hook that forgets the session when a service refuses the token.
const hooks = { unauthorised: () => {} };
export function onUnauthorised(callback) { hooks.unauthorised = callback; }

// A problem+json answer as one line: its detail and each named field with its reason.
export class Problem extends Error {
  constructor(service, status, body) {
    const fields = (body && body.errors || []).map(e => `${e.field}: ${e.reason}`).join("; ");
    super(`${service}: ${body && (body.detail || body.title) || status}${fields ? " (" + fields + ")" : ""}`);
    this.status = status;
    this.body = body || {};
  }
}

export async function api(service, path, options = {}) {
  const response = await fetch(state.services[service] + path, {
    ...options,
    headers: { "Authorization": "Bearer " + state.token, "Content-Type": "application/json", ...(options.headers || {}) },
  });
  if (response.status === 401) { hooks.unauthorised("msg.token_refused"); throw new Error("401"); }
  const body = response.status === 204 ? null : await response.json().catch(() => null);
  if (!response.ok) throw new Problem(service, response.status, body);
  return body;
}

// Every time a person reads is the office's time (WIB): the services send UTC instants (ISO 8601 with a zone).
// Written the chosen language's way (id-ID, en-GB), always in Asia/Jakarta; true/false as words.
const INSTANT = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})$/;
export function shown(value) {
  if (typeof value === "boolean") return t(value ? "yes" : "no");
  if (typeof value !== "string" || !INSTANT.test(value)) return value;
  const when = new Date(value).toLocaleString(t("locale"), { timeZone: "Asia/Jakarta", dateStyle: "medium", timeStyle: "short" });
  return `${when} ${t("zone")}`;
}

export function definitions(target, data, keys) {
  const dl = typeof target === "string" ? document.getElementById(target) : target;
  dl.replaceChildren();
  if (!data) return dl;
  for (const key of keys) {
    if (data[key] === undefined) continue;
    dl.append(el("dt", {}, i18n.named("field", key)), el("dd", { "data-key": key }, shown(data[key]) ?? "–"));
  }
  return dl;
}

export function table(target, rows, columns) {
  // columns: [[heading, row => text or Node], …]
  const node = typeof target === "string" ? document.getElementById(target) : target;
  node.replaceChildren(el("tr", {}, columns.map(([heading]) => el("th", {}, heading))));
  for (const row of rows) node.append(el("tr", {}, columns.map(([, cell]) => el("td", {}, cell(row)))));
  if (!rows.length) node.append(el("tr", {}, el("td", { colspan: columns.length, class: "empty" }, t("empty"))));
  return node;
}

export const items = body => Array.isArray(body) ? body : (body && body.items) || [];

// Views that are pages of a tab (a request's page, the intake form) keep their tab lit.
const TAB_OF = { intake: "requests", request: "requests" };

export function show(view) {
  state.view = view;
  for (const section of document.querySelectorAll(".view")) section.hidden = section.id !== view;
  const tab = TAB_OF[view] || view;
  for (const button of document.querySelectorAll("#tabs button")) {
    button.classList.toggle("active", button.dataset.view === tab);
    if (button.dataset.view === tab) button.setAttribute("aria-current", "page"); else button.removeAttribute("aria-current");
  }
  return refresh();
}

export async function refresh() {
  const view = state.view;
  try {
    const token = state.token;
    const data = await views[view].load();
    if (state.token !== token) return;  // signed out (or in again) while it loaded: not this session's page
    state.shown[view] = data;
    if (state.view === view) views[view].draw(data);
  } catch (error) { if (error.message !== "401") say(error.message); }
}

// A change the staff member asked for: the call, then what to say (done) and the view drawn again; the
// problem's words when it is refused.
export async function act(service, path, body = {}, { method = "POST", done = () => say("") } = {}) {
  try { await api(service, path, { method, body: JSON.stringify(body) }); done(); await refresh(); }
  catch (error) { say(error.message); }
}

// The office's regions (kecamatan and their desa), asked once a session.
export async function regions() {
  state.regions = state.regions || await api("request", "/v1/regions");
  return state.regions;
}

export function kecamatanName(code) {
  const found = ((state.regions || {}).kecamatan || []).find(k => k.code === code);
  return found ? `${found.name} (${code})` : code;
}
