// Printer: the gateway's printers with their state, reasons and supplies; pause, resume, commission.
import { act, el, i18n, items, api, register, t, table } from "./core.js";

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

register("printers", {
  async load() { return api("gateway", "/v1/printers"); },
  draw(printers) { table("printer-list", items(printers), printerColumns(true)); },
});
