// Permohonan: the list of residents' requests, filtered; a request needing review resolved, a printed one activated.
import { act, api, el, i18n, items, register, t, table } from "./core.js";
import { newIntake } from "./intake.js";
import { openRequest } from "./request_page.js";

// A listed request carries its card, with the kecamatan's name resolved from the region reference data.
function kecamatan(r) {
  const card = r.card || {};
  const code = card.kecamatan_code || r.kecamatan_code || "";
  const name = card.kecamatan || "";
  if (!name) return code;
  return el("span", {}, name, code ? el("small", { class: "code" }, " " + code) : "");
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

register("requests", {
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
      [t("col.request"), r => el("button", { type: "button", class: "link", onclick: () => openRequest(r.id) }, r.id)],
      [t("col.name"), r => r.name || (r.card || {}).name || ""],
      [t("col.kecamatan"), r => kecamatan(r)],
      [t("col.priority"), r => i18n.named("priority", r.priority)],
      [t("col.status"), r => el("span", { class: r.status === "needs_review" ? "bad" : "", "data-status": r.status }, i18n.named("status", r.status))],
      [t("col.serial"), r => r.card_serial || "–"],
      ["", r => requestActions(r)],
    ]);
    document.getElementById("request-total").textContent = t("requests.total", { count: page.total ?? items(page).length });
  },
});

document.getElementById("new-request").addEventListener("click", () => newIntake());
