// Suket: the register of surat keterangan pengganti KTP-el — each one's number, resident's request, status and
// validity; print its PDF, open its public verification page, withdraw it with a reason; export the register.
// Issuing is on a waiting request's page (issueSuket, offered there when the card is far off).
import { api, el, i18n, items, register, say, sayKey, state, t, table } from "./core.js";
import { field, heading, input, select, submit } from "./forms.js";
import { openRequest } from "./request_page.js";

const sukets = { built: false };

// A file the service makes (the PDF, the CSV): fetched with the token, then opened or saved by the browser.
async function download(path, name) {
  const response = await fetch(state.services.request + path, { headers: { Authorization: "Bearer " + state.token } });
  if (!response.ok) { say(`request: ${response.status}`); return; }
  const link = el("a", { href: URL.createObjectURL(await response.blob()), download: name });
  document.body.append(link);
  link.click();
  link.remove();
}

export async function issueSuket(requestId) {
  try {
    const made = await api("request", `/v1/requests/${requestId}/suket`, { method: "POST", body: "{}", headers: { "Idempotency-Key": crypto.randomUUID() } });
    sayKey("suket.issued", { number: made.number });
    await download(`/v1/sukets/${made.id}.pdf`, `suket-${made.number.replace(/\W+/g, "-")}.pdf`);
  } catch (error) { say(error.message); }
}

async function withdraw(s, reason) {
  try {
    await api("request", `/v1/sukets/${s.id}/cancel`, { method: "POST", body: JSON.stringify({ reason }) });
    sayKey("suket.withdrawn", { number: s.number });
    state.shown.sukets = await load();
    draw(state.shown.sukets);
  } catch (error) { say(error.message); }
}

function actions(s) {
  if (s.status !== "valid") return "";
  const reason = el("input", { name: "withdraw-reason", size: 16, maxlength: 300, placeholder: t("suket.reason"), "aria-label": t("suket.reason") });
  return el("span", {},
    el("button", { type: "button", class: "action", onclick: () => download(`/v1/sukets/${s.id}.pdf`, `suket-${s.number.replace(/\W+/g, "-")}.pdf`) }, t("action.print_pdf")),
    el("a", { href: s.verification_url, target: "_blank", rel: "noopener", class: "action" }, t("action.verify")), " ",
    reason, el("button", { type: "button", class: "action", onclick: () => withdraw(s, reason.value.trim()) }, t("action.withdraw")));
}

function query() {
  const form = document.getElementById("suket-filter");
  const params = new URLSearchParams({ limit: "100" });
  for (const [key, value] of new FormData(form)) if (String(value).trim()) params.set(key, String(value).trim());
  return params;
}

async function load() {
  if (!sukets.built) build();  // the filter form is read for the query
  return api("request", "/v1/sukets?" + query());
}

function build() {
  const form = el("form", { id: "suket-filter", class: "filters" },
    field("filter.status", select("status", "suket_status", ["", "valid", "withdrawn", "expired"])),
    field("filter.kecamatan", input("kecamatan", { size: 10, placeholder: "18.09.01" })),
    submit("filter.show"),
    el("button", { type: "button", class: "action", onclick: () => download("/v1/sukets/export.csv?" + query(), "register-suket.csv") }, t("action.export_csv")));
  form.addEventListener("submit", async event => { event.preventDefault(); state.shown.sukets = await load(); draw(state.shown.sukets); });
  document.getElementById("sukets").replaceChildren(heading("h2", "suket.heading"), el("p", { class: "hint" }, t("suket.hint")),
    form, el("table", { id: "suket-list" }), el("p", { id: "suket-total" }));
  sukets.built = true;
}

function draw(page) {
  if (!sukets.built) build();
  table("suket-list", items(page), [
    [t("col.number"), s => s.number],
    [t("col.request"), s => el("button", { type: "button", class: "link", onclick: () => openRequest(s.request_id) }, s.request_id)],
    [t("col.kecamatan"), s => s.kecamatan_code],
    [t("col.state"), s => el("span", { class: s.status === "valid" ? "ok" : "bad" }, i18n.named("suket_status", s.status))],
    [t("col.issued_on"), s => s.issued_on], [t("col.valid_until"), s => s.valid_until],
    ["", actions],
  ]);
  document.getElementById("suket-total").textContent = t("suket.total", { count: page.total ?? items(page).length });
}

register("sukets", { load, draw });
