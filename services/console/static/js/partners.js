// Mitra (admins only): the partner systems the office serves over REST. Register one (its client secret and
// webhook secret are shown here once, never again), suspend or reactivate it, rotate a secret, read its
// webhook deliveries.
import { act, api, el, i18n, items, register, say, shown, state, t, table } from "./core.js";
import { field, heading, input, submit, values } from "./forms.js";

const URGENT = ["health", "education", "legal", "travel", "disaster", "other"];
const partners = { built: false, deliveries: null };

// The secrets, once: a box to copy them from, gone when the page is left.
function showSecrets(rows) {
  document.getElementById("partner-secrets").replaceChildren(
    el("p", { class: "bad" }, t("partner.secrets_once")),
    el("dl", { id: "partner-secret-values" }, rows.flatMap(([key, value]) => [
      el("dt", {}, i18n.named("field", key)), el("dd", {}, el("code", {}, value))])));
}

async function registerPartner(event) {
  event.preventDefault();
  const form = event.target;
  const data = values(form);
  const body = {
    name: data.name, contact: data.contact, rate_limit_per_minute: Number(data.rate_limit_per_minute || 60),
    allowed_reasons: URGENT.filter(reason => form.elements[`reason-${reason}`].checked),
    callback_url: data.callback_url || null,
  };
  try {
    const made = await api("request", "/v1/partners", { method: "POST", body: JSON.stringify(body) });
    form.reset();
    showSecrets([["client_id", made.client_id], ["client_secret", made.client_secret], ["webhook_secret", made.webhook_secret]]);
    say(t("partner.registered", { name: made.name }));
    state.shown.partners = await load();
    draw(state.shown.partners);
  } catch (error) { say(error.message); }
}

async function rotate(partner, kind) {
  if (!confirm(t("partner.rotate_confirm", { kind: i18n.named("secret_kind", kind) }))) return;
  try {
    const rotated = await api("request", `/v1/partners/${partner.id}/secrets`, { method: "POST", body: JSON.stringify({ kind, overlap_hours: 24 }) });
    showSecrets([["client_id", partner.id], [kind === "client" ? "client_secret" : "webhook_secret", rotated.secret]]);
  } catch (error) { say(error.message); }
}

async function showDeliveries(partner) {
  partners.deliveries = { partner, page: await api("request", `/v1/partners/${partner.id}/deliveries?limit=50`) };
  drawDeliveries();
}

function drawDeliveries() {
  const place = document.getElementById("partner-deliveries");
  if (!partners.deliveries) { place.replaceChildren(); return; }
  const { partner, page } = partners.deliveries;
  place.replaceChildren(el("h3", {}, `${t("partner.deliveries")} — ${partner.name}`),
    table(el("table", {}), items(page), [
      [t("col.delivery"), d => d.id], [t("col.event"), d => d.type], [t("col.request"), d => d.request_id],
      [t("col.state"), d => el("span", { class: d.state === "failed" ? "bad" : d.state === "delivered" ? "ok" : "" }, i18n.named("delivery_state", d.state))],
      [t("col.attempts"), d => d.attempts], [t("col.last_answer"), d => d.last_status_code ?? ((d.history.at(-1) || {}).error || "–")],
      [t("col.when"), d => shown(d.occurred_at)],
    ]));
}

function build() {
  const reasons = el("fieldset", { class: "inline" }, el("legend", { "data-i18n": "partner.reasons" }, t("partner.reasons")),
    URGENT.map(reason => el("label", { class: "check" }, input(`reason-${reason}`, { type: "checkbox", checked: reason === "health" }),
      el("span", { "data-i18n": `reason.${reason}` }, t(`reason.${reason}`)))));
  const form = el("form", { id: "partner-form", class: "stacked" }, heading("h3", "partner.register"),
    field("field.partner_name", input("name", { required: true, maxlength: 200, size: 28 })),
    field("field.contact", input("contact", { required: true, maxlength: 200, size: 24 })),
    field("field.callback_url", input("callback_url", { type: "url", maxlength: 500, size: 34, placeholder: "https://…" })),
    field("field.rate_limit_per_minute", input("rate_limit_per_minute", { type: "number", min: 1, max: 6000, value: 60, size: 6 })),
    reasons, submit("action.register"));
  form.addEventListener("submit", registerPartner);
  document.getElementById("partners").replaceChildren(heading("h2", "partner.heading"), el("div", { id: "partner-secrets", "aria-live": "polite" }),
    el("table", { id: "partner-list" }), form, el("div", { id: "partner-deliveries" }));
  partners.built = true;
}

function actions(p) {
  const suspended = p.status === "suspended";
  return el("span", {},
    el("button", { type: "button", class: "action", name: "toggle", onclick: () => act("request", `/v1/partners/${p.id}`, { status: suspended ? "active" : "suspended" }, { method: "PATCH" }) },
      t(suspended ? "action.reactivate" : "action.suspend")),
    el("button", { type: "button", class: "action", onclick: () => rotate(p, "client") }, t("action.rotate_client")),
    el("button", { type: "button", class: "action", onclick: () => rotate(p, "webhook") }, t("action.rotate_webhook")),
    el("button", { type: "button", class: "action", onclick: () => showDeliveries(p) }, t("action.deliveries")));
}

async function load() { return api("request", "/v1/partners"); }

function draw(list) {
  if (!partners.built) build();
  table("partner-list", list, [
    [t("col.name"), p => p.name], [t("col.client_id"), p => el("code", {}, p.id)],
    [t("col.state"), p => el("span", { class: p.status === "active" ? "ok" : "bad" }, i18n.named("partner_status", p.status))],
    [t("col.reason"), p => p.allowed_reasons.map(r => i18n.named("reason", r)).join(", ")],
    [t("col.kecamatan"), p => (p.allowed_kecamatan || [t("partner.all_kecamatan")]).join(", ")],
    [t("col.rate_limit"), p => p.rate_limit_per_minute], [t("col.callback"), p => p.callback_url || "–"],
    ["", actions],
  ]);
  drawDeliveries();
}

register("partners", { load, draw });
