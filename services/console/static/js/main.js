// The console's frame: sign-in and sign-out, the tabs, the language switch. Each tab's view is a module of its
// own that registers itself with core.register (imported here for that).
import { claims, i18n, onUnauthorised, refresh, say, sayKey, show, showMessage, state, views } from "./core.js";
import "./coverage.js";
import "./desk.js";
import "./intake.js";
import "./overview.js";
import "./partners.js";
import "./printers.js";
import "./proposals.js";
import "./request_page.js";
import "./requests.js";
import "./stock.js";
import "./sukets.js";
import "./visits.js";
import { addUser } from "./users.js";

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
  for (const adminsOnly of ["users", "partners"]) {
    document.querySelector(`#tabs button[data-view=${adminsOnly}]`).hidden = who.role !== "admin";
  }
  // The Suket register and the mobile visits are the office's (admins and operators), not a kecamatan clerk's.
  for (const desks of ["sukets", "visits"]) {
    document.querySelector(`#tabs button[data-view=${desks}]`).hidden = !["admin", "operator"].includes(who.role);
  }
  show("overview");
  // The live views follow the printers, but never while the staff member is typing in them.
  state.timer = setInterval(() => {
    const typing = document.activeElement && document.activeElement.closest(".view") && /INPUT|SELECT|TEXTAREA/.test(document.activeElement.tagName);
    if ((state.view === "overview" || state.view === "printers") && !typing) refresh();
  }, 5000);
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
  onUnauthorised(signOut);
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
  for (const button of document.querySelectorAll("#tabs button")) button.addEventListener("click", () => { say(""); show(button.dataset.view); });
  if (state.token) signIn(state.token);
}

start();
