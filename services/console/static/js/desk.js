// Aktivasi & penyerahan: the serial typed, or scanned (a barcode scanner types it and presses Enter), finds the
// card's request and activates it; the hand-over records who received the card. Below, the cards printed and
// waiting for activation, and the activated ones waiting for their resident.
import { api, el, i18n, items, register, say, sayKey, shown, state, t, table } from "./core.js";
import { field, heading, input, submit } from "./forms.js";
import { openRequest } from "./request_page.js";

const desk = { built: false, request: null };

async function activate(event) {
  event.preventDefault();
  const form = event.target;
  const serial = form.serial.value.trim().toUpperCase();
  form.serial.value = "";
  form.serial.focus();
  if (!serial) return;
  try {
    const card = await api("request", `/v1/cards/${encodeURIComponent(serial)}`);
    let request = await api("request", `/v1/requests/${encodeURIComponent(card.request_id)}?purpose=pelayanan`);
    if (request.status === "printed") {
      request = await api("request", `/v1/requests/${request.id}/activate`, { method: "POST", body: JSON.stringify({ card_serial: serial }) });
      sayKey("desk.activated", { serial, name: request.card.name });
    } else {
      sayKey("desk.already", { serial, status: i18n.named("status", request.status) });
    }
    offerHandover(request);
    await refreshLists();
  } catch (error) {
    if (error.status === 404) sayKey("desk.unknown_serial", { serial }); else say(error.message);
  }
}

function offerHandover(request) {
  desk.request = request.status === "activated" ? request : null;
  const form = document.getElementById("handover-form");
  form.hidden = !desk.request;
  if (!desk.request) return;
  document.getElementById("handover-who").textContent = `${request.card.name} — ${request.card_serial}`;
  form.received_by.value = request.card.name;
  form.received_by.focus();
}

async function handover(event) {
  event.preventDefault();
  const form = event.target;
  const request = desk.request;
  if (!request) return;
  const body = { received_by: form.received_by.value.trim(), note: form.note.value.trim() || null };
  try {
    await api("request", `/v1/requests/${request.id}/handover`, { method: "POST", body: JSON.stringify(body) });
    sayKey("desk.handed_over", { serial: request.card_serial, name: body.received_by });
    form.reset();
    offerHandover({ status: "collected" });
    document.querySelector("#activate-form input[name=serial]").focus();
    await refreshLists();
  } catch (error) { say(error.message); }
}

function build() {
  const activateForm = el("form", { id: "activate-form", class: "filters" },
    field("desk.serial", input("serial", { autocomplete: "off", autocapitalize: "characters", size: 22, maxlength: 40, required: true }), { hint: "desk.scan_hint" }),
    submit("action.activate"));
  activateForm.addEventListener("submit", activate);
  const handoverForm = el("form", { id: "handover-form", class: "filters", hidden: true },
    el("p", { id: "handover-who", class: "ok" }),
    field("field.received_by", input("received_by", { required: true, maxlength: 120, size: 28 })),
    field("field.note", input("note", { maxlength: 300, size: 28 })),
    submit("action.handover"));
  handoverForm.addEventListener("submit", handover);
  document.getElementById("desk").replaceChildren(
    heading("h2", "desk.heading"), activateForm, handoverForm,
    heading("h3", "desk.waiting_activation"), el("table", { id: "desk-printed" }),
    heading("h3", "desk.waiting_handover"), el("table", { id: "desk-activated" }));
  desk.built = true;
}

const columns = () => [
  [t("col.request"), r => el("button", { type: "button", class: "link", onclick: () => openRequest(r.id) }, r.id)],
  [t("col.name"), r => r.card.name],
  [t("col.serial"), r => r.card_serial || "–"],
  [t("col.updated"), r => shown(r.updated_at)],
  ["", r => r.status === "activated"
    ? el("button", { type: "button", class: "action", onclick: () => offerHandover(r) }, t("action.handover")) : ""],
];

async function waiting() {
  const [printed, activated] = await Promise.all(["printed", "activated"].map(status =>
    api("request", `/v1/requests?status=${status}&limit=50`)));
  return { printed, activated };
}

function drawLists({ printed, activated }) {
  table("desk-printed", items(printed), columns());
  table("desk-activated", items(activated), columns());
}

async function refreshLists() {
  state.shown.desk = await waiting();
  drawLists(state.shown.desk);
}

register("desk", {
  load: waiting,
  draw(lists) {
    const fresh = !desk.built;
    if (fresh) build();
    drawLists(lists);
    if (fresh) document.querySelector("#activate-form input[name=serial]").focus();
  },
});
