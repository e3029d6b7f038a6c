// A request's page: who and why, where it stands (status timeline from its history, the estimated print date
// while it waits), the card as the printer will draw it, and what the desk may do next: cancel while it waits,
// a replacement card (damaged, lost, data change) once the resident holds one.
import { act, api, definitions, el, i18n, register, say, shown, show, state, t } from "./core.js";
import { button, field, input, officeToday, select } from "./forms.js";
import { issueSuket } from "./sukets.js";

const WAITING = ["received", "queued", "needs_review"];
const SUKET_WHILE = ["received", "queued", "printing", "needs_review"];
const SUKET_AFTER_DAYS = 14;  // a card further off than this: the page suggests a Suket

function daysUntil(date) {
  return Math.round((Date.parse(date) - Date.parse(officeToday())) / 86400000);
}

// The Suket: the one in force, or the offer to issue one while the resident waits (urged when the card is far off).
function suketPanel(r) {
  const suket = r.suket;
  if (suket && suket.status === "valid") {
    return el("div", { class: "act", id: "request-suket" },
      el("h3", { "data-i18n": "suket.one" }, t("suket.one")),
      el("span", {}, `${suket.number} — ${t("suket.valid_until", { date: suket.valid_until })}`));
  }
  if (!SUKET_WHILE.includes(r.status)) return "";
  const estimated = (r.queue || {}).estimated_print_date;
  const far = !estimated || daysUntil(estimated) > SUKET_AFTER_DAYS;
  return el("div", { class: "act", id: "request-suket" },
    el("h3", { "data-i18n": "suket.one" }, t("suket.one")),
    el("span", { class: far ? "bad" : "hint" }, far ? t("suket.advised", { days: SUKET_AFTER_DAYS }) : t("suket.not_needed")),
    button("action.issue_suket", { onclick: async () => { await issueSuket(r.id); await openRequest(r.id, { keepMessage: true }); } }));
}
const HOLDS_CARD = ["activated", "collected"];

export async function openRequest(id, { keepMessage = false } = {}) {
  state.requestId = id;
  if (!keepMessage) say("");
  await show("request");
}

// The card as the gateway renders it (the token goes with the call, so it is fetched, then shown as a blob).
async function cardPreview(id) {
  const response = await fetch(`${state.services.gateway}/v1/requests/${encodeURIComponent(id)}/preview.png`,
    { headers: { Authorization: "Bearer " + state.token } });
  if (!response.ok) return null;
  return URL.createObjectURL(await response.blob());
}

function timeline(history) {
  return el("ol", { class: "timeline", id: "request-timeline" }, history.map(event => el("li", {},
    el("time", { datetime: event.at }, shown(event.at)), " ",
    el("strong", {}, i18n.named("event", event.action)), " ",
    event.after && event.after.status ? el("span", { "data-status": event.after.status }, "→ " + i18n.named("status", event.after.status)) : "",
    el("small", { class: "code" }, ` ${event.actor} (${i18n.named("role", event.actor_role)})`))));
}

function cancelForm(r) {
  const note = input("note", { maxlength: 300, size: 30 });
  return el("div", { class: "act" }, field("request.cancel_note", note),
    button("action.cancel_request", {
      onclick: () => { if (confirm(t("request.cancel_confirm"))) act("request", `/v1/requests/${r.id}/cancel`, { note: note.value.trim() || null }, { done: () => say("") }); },
    }));
}

function replacementForm(r) {
  const reason = select("reason", "replacement", ["damaged", "lost", "data_change"]);
  const police = input("police_report", { maxlength: 100, size: 20 });
  const note = input("note", { maxlength: 300, size: 30 });
  const form = el("form", { class: "act", id: "replacement-form" },
    el("h3", { "data-i18n": "request.replacement" }, t("request.replacement")),
    field("field.replacement_reason", reason), field("field.police_report", police, { hint: "request.police_hint" }),
    field("field.note", note),
    el("button", { type: "submit", class: "action", "data-i18n": "action.replace" }, t("action.replace")));
  form.addEventListener("submit", async event => {
    event.preventDefault();
    const body = { reason: reason.value, note: note.value.trim() || null, police_report: police.value.trim() || null };
    try {
      const made = await api("request", `/v1/requests/${r.id}/replacements`, { method: "POST", body: JSON.stringify(body) });
      await openRequest(made.id);
    } catch (error) { say(error.message); }
  });
  return form;
}

register("request", {
  async load() {
    const id = state.requestId;
    const [request, history, preview] = await Promise.allSettled([
      api("request", `/v1/requests/${encodeURIComponent(id)}?purpose=pelayanan`),
      api("request", `/v1/requests/${encodeURIComponent(id)}/history`), cardPreview(id),
    ]);
    if (request.status === "rejected") throw request.reason;
    return { request: request.value, history: history.value || [], preview: preview.value || null };
  },
  draw({ request: r, history, preview }) {
    const section = document.getElementById("request");
    const card = r.card || {};
    const queue = r.queue || {};
    const facts = { ...r, name: card.name, nik: card.nik, kecamatan: `${card.kecamatan || ""} (${card.kecamatan_code || ""})`,
      village: card.village, position: queue.position, estimated_print_date: queue.estimated_print_date };
    facts.status = i18n.named("status", r.status); facts.priority = i18n.named("priority", r.priority); facts.reason = i18n.named("reason", r.reason);
    const list = definitions(el("dl", { id: "request-facts" }), facts,
      ["name", "nik", "status", "priority", "reason", "kecamatan", "village", "position", "estimated_print_date", "card_serial",
        "created_at", "printed_at", "activated_at", "collected_at", "received_by", "old_ktp_seen", "kk_copy_seen", "replaces", "replaced_by"]);
    const image = preview ? el("img", { src: preview, alt: t("request.preview_alt"), class: "card-preview", id: "card-preview" })
      : el("p", { class: "hint" }, t("request.no_preview"));
    section.replaceChildren(
      el("p", {}, button("request.back", { onclick: () => show("requests") })),
      el("h2", {}, `${card.name || ""} `, el("small", { class: "code" }, r.id)),
      el("div", { class: "columns" },
        el("div", {}, list),
        el("div", {}, image)),
      el("h3", { "data-i18n": "request.timeline" }, t("request.timeline")), timeline(history),
      suketPanel(r),
      WAITING.includes(r.status) ? cancelForm(r) : "",
      HOLDS_CARD.includes(r.status) && !r.replaced_by ? replacementForm(r) : "");
  },
});
