// Pencetakan: the gateway's printers with their state, reasons and supplies; register, commission, pause,
// resume; and the jobs in review (the printer could not say whether a card came out): the operator looks at the
// output tray and says "printed, serial …" or "not printed", which settles the request and the blank's ledger.
import { act, api, el, i18n, items, register, say, shown, t, table } from "./core.js";
import { field, heading, input, submit, values } from "./forms.js";

export function printerColumns(withActions) {
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

function reviewActions(job) {
  const serial = el("input", { name: "review-serial", size: 16, maxlength: 40, placeholder: t("serial.placeholder"), "aria-label": t("serial.placeholder") });
  const resolve = body => act("gateway", `/v1/jobs/${job.id}/resolve`, body, { done: () => say("") });
  return el("span", {}, serial,
    el("button", { type: "button", class: "action", onclick: () => resolve({ outcome: "printed", card_serial: serial.value.trim().toUpperCase() }) }, t("action.printed")),
    el("button", { type: "button", class: "action", onclick: () => resolve({ outcome: "not_printed" }) }, t("action.not_printed")));
}

function registerForm() {
  const form = el("form", { id: "printer-form", class: "filters" }, heading("h3", "printing.register"),
    field("field.printer_name", input("name", { required: true, maxlength: 100, size: 16 })),
    field("field.printer_url", input("url", { required: true, maxlength: 500, size: 26, placeholder: "/dev/ttyUSB0" }), { hint: "printing.url_hint" }),
    field("field.ribbon", input("ribbon", { value: "ymcko", pattern: "[ymcko]{1,5}", size: 6 })),
    submit("action.register"));
  form.addEventListener("submit", event => {
    event.preventDefault();
    act("gateway", "/v1/printers", values(form), { done: () => { form.reset(); say(""); } });
  });
  return form;
}

register("printers", {
  async load() {
    const [printers, review] = await Promise.all([api("gateway", "/v1/printers"), api("gateway", "/v1/jobs?status=needs_review&limit=100")]);
    return { printers, review };
  },
  draw({ printers, review }) {
    table("printer-list", items(printers), printerColumns(true));
    const place = document.getElementById("printer-register");
    if (!place.firstChild) place.append(registerForm());
    table("review-jobs", items(review), [
      [t("col.job"), j => j.id], [t("col.printer"), j => j.printer_id], [t("col.request"), j => j.request_id || "–"],
      [t("col.reasons"), j => j.reason || "–"], [t("col.updated"), j => shown(j.updated_at)], ["", reviewActions],
    ]);
  },
});
