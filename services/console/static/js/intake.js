// Permohonan baru: a walk-in at the front desk. The NIK is read as it is typed (birth date and sex filled from
// it, an open request for it shown at once), the kecamatan picks its desa, the photo comes from the desk's
// webcam or a file, the signature from a pad (or a scan), the documents seen are ticked, the reason says whether
// it is urgent. One Idempotency-Key per filled form: a second click cannot make a second request.
import { api, el, Problem, regions, register, say, sayKey, show, state, t } from "./core.js";
import { base64, button, field, heading, input, select, submit, values } from "./forms.js";
import { readNik } from "./nik.js";
import { openRequest } from "./request_page.js";
import { camera, signaturePad } from "./capture.js";

const URGENT = ["health", "education", "legal", "travel", "disaster", "other"];
const REGULAR = ["first_card", "turned_17", "status_change", "address_change", "data_correction", "damaged_card", "lost_card"];
const RELIGIONS = ["ISLAM", "KRISTEN", "KATOLIK", "HINDU", "BUDDHA", "KONGHUCU", "KEPERCAYAAN TERHADAP TUHAN YME"];
const MARITAL = ["BELUM KAWIN", "KAWIN", "CERAI HIDUP", "CERAI MATI"];
const BLOOD = ["-", "A", "B", "AB", "O", "A+", "A-", "B+", "B-", "AB+", "AB-", "O+", "O-"];
const UPPER = ["name", "birth_place", "address", "occupation"];

const intake = { form: null, key: null, photo: null, signature: null, pad: null };

function reasonSelect() {
  const option = reason => el("option", { value: reason, "data-i18n": `reason.${reason}` }, t(`reason.${reason}`));
  return el("select", { name: "reason", required: true },
    el("optgroup", { label: t("intake.urgent"), "data-i18n-label-attr": "intake.urgent" }, URGENT.map(option)),
    el("optgroup", { label: t("intake.regular"), "data-i18n-label-attr": "intake.regular" }, REGULAR.map(option)));
}

function villages(kecamatanCode) {
  const kecamatan = state.regions.kecamatan.find(k => k.code === kecamatanCode);
  return (kecamatan ? kecamatan.villages : []).map(v => el("option", { value: v.code }, `${v.name} (${v.code})`));
}

// The NIK as typed: what it says, or what is wrong with it; birth date and sex filled; a duplicate shown.
async function checkNik() {
  const form = intake.form;
  const status = document.getElementById("nik-status");
  const found = readNik(form.nik.value);
  form.nik.setAttribute("aria-invalid", String(!found.ok && form.nik.value.length >= 16));
  status.replaceChildren();
  if (!found.ok) { if (form.nik.value.length) status.append(t(found.reason, found)); return; }
  form.birth_date.value = found.birthDate;
  form.sex.value = found.sex;
  const home = state.regions.kecamatan.find(k => k.code === found.region);
  status.append(el("span", { class: "ok" }, t("nik.valid")), " ",
    t(home ? "nik.first_registered_here" : "nik.first_registered_elsewhere", { region: home ? home.name : found.region }));
  if (home && !form.kecamatan_code.value) { form.kecamatan_code.value = home.code; form.village_code.replaceChildren(...villages(home.code)); }
  // An open request for the NIK (operators and admins may search by NIK; a clerk's search is refused: no hint).
  try {
    const page = await api("request", `/v1/requests?nik=${form.nik.value.trim()}&purpose=pelayanan&limit=5`);
    const open = page.items.find(r => !["collected", "cancelled", "rejected", "replaced"].includes(r.status));
    if (open) status.append(" ", duplicateNotice(open.id, open.status));
  } catch { /* not allowed to search: the submission says so if it is a duplicate */ }
}

function duplicateNotice(id, status) {
  const words = status ? t("nik.duplicate", { status: t(`status.${status}`) }) : t("nik.duplicate_open");
  return el("span", { class: "bad", id: "nik-duplicate" }, words, " ",
    el("button", { type: "button", class: "action", onclick: () => openRequest(id) }, t("intake.open_existing")));
}

function build() {
  const section = document.getElementById("intake");
  intake.pad = signaturePad();
  const photo = camera(blob => { intake.photo = blob; });
  const kecamatan = el("select", { name: "kecamatan_code", required: true },
    el("option", { value: "" }, "–"), state.regions.kecamatan.map(k => el("option", { value: k.code }, `${k.name} (${k.code})`)));
  const village = el("select", { name: "village_code", required: true });
  kecamatan.addEventListener("change", () => village.replaceChildren(...villages(kecamatan.value)));
  const nik = input("nik", { id: "intake-nik", inputmode: "numeric", maxlength: 16, pattern: "\\d{16}", required: true, autocomplete: "off" });
  nik.addEventListener("input", () => checkNik());
  const form = el("form", { id: "intake-form", novalidate: true },
    heading("h2", "intake.heading"),
    el("fieldset", {}, el("legend", { "data-i18n": "intake.identity" }, t("intake.identity")),
      field("field.nik", nik), el("p", { id: "nik-status", "aria-live": "polite", class: "hint" }),
      field("field.name", input("name", { required: true, maxlength: 80, size: 30 })),
      field("field.birth_place", input("birth_place", { required: true, maxlength: 60 })),
      field("field.birth_date", input("birth_date", { type: "date", required: true })),
      field("field.sex", select("sex", "sex", ["M", "F"])),
      field("field.blood_type", select("blood_type", "blood", BLOOD)),
      field("field.religion", select("religion", "religion", RELIGIONS)),
      field("field.marital_status", select("marital_status", "marital", MARITAL)),
      field("field.occupation", input("occupation", { required: true, maxlength: 60, value: "" })),
      field("field.citizenship", select("citizenship", "citizenship", ["WNI", "WNA"]))),
    el("fieldset", {}, el("legend", { "data-i18n": "intake.address" }, t("intake.address")),
      field("field.address", input("address", { required: true, maxlength: 200, size: 40 }), { wide: true }),
      field("field.rt", input("rt", { required: true, inputmode: "numeric", maxlength: 3, size: 4, pattern: "\\d{1,3}" })),
      field("field.rw", input("rw", { required: true, inputmode: "numeric", maxlength: 3, size: 4, pattern: "\\d{1,3}" })),
      field("field.kecamatan_code", kecamatan), field("field.village_code", village)),
    el("fieldset", { class: "images" }, el("legend", { "data-i18n": "intake.images" }, t("intake.images")),
      photo.node, intake.pad.node),
    el("fieldset", {}, el("legend", { "data-i18n": "intake.reason_heading" }, t("intake.reason_heading")),
      field("field.reason", reasonSelect()),
      field("field.reason_note", input("reason_note", { maxlength: 300, size: 40 }), { wide: true }),
      el("label", { class: "check" }, input("old_ktp_seen", { type: "checkbox" }), el("span", { "data-i18n": "intake.old_ktp_seen" }, t("intake.old_ktp_seen"))),
      el("label", { class: "check" }, input("kk_copy_seen", { type: "checkbox" }), el("span", { "data-i18n": "intake.kk_copy_seen" }, t("intake.kk_copy_seen")))),
    el("p", {}, submit("intake.submit"), " ", button("intake.clear", { onclick: () => reset() })));
  for (const name of UPPER) form[name].addEventListener("input", e => { e.target.value = e.target.value.toUpperCase(); });
  form.addEventListener("submit", sendRequest);
  section.replaceChildren(form);
  intake.form = form;
  reset();
}

function reset() {
  intake.form.reset();
  intake.key = crypto.randomUUID();
  intake.photo = null;
  intake.pad.clear();
  document.getElementById("nik-status").replaceChildren();
  intake.form.village_code.replaceChildren();
  for (const node of intake.form.querySelectorAll("[aria-invalid=true]")) node.removeAttribute("aria-invalid");
  for (const node of intake.form.querySelectorAll(".field-error")) node.remove();
}

// The service's 422 names each field: the reason is shown beside it, the first one focused.
function markErrors(problem) {
  for (const node of intake.form.querySelectorAll(".field-error")) node.remove();
  let first = null;
  for (const error of problem.body.errors || []) {
    const name = String(error.field).split(".").pop();
    const control = intake.form.elements[name];
    if (!control || !control.closest) continue;
    control.setAttribute("aria-invalid", "true");
    control.closest("label").append(el("small", { class: "field-error bad" }, error.reason));
    first = first || control;
  }
  if (first) first.focus();
}

async function sendRequest(event) {
  event.preventDefault();
  const data = values(intake.form);
  const signature = await intake.pad.blob();
  if (!intake.photo) { sayKey("intake.photo_missing"); return; }
  if (!signature) { sayKey("intake.signature_missing"); return; }
  const body = {
    ...data, channel: "walk_in", rt: data.rt.padStart(3, "0"), rw: data.rw.padStart(3, "0"),
    reason_note: data.reason_note || null, photo: await base64(intake.photo), signature: await base64(signature),
  };
  try {
    const made = await api("request", "/v1/requests", { method: "POST", body: JSON.stringify(body), headers: { "Idempotency-Key": intake.key } });
    reset();
    sayKey("intake.created", { id: made.id });
    await openRequest(made.id, { keepMessage: true });
  } catch (error) {
    if (!(error instanceof Problem)) { say(error.message); return; }
    say(error.message);
    if (error.body.existing_request_id) {
      const status = document.getElementById("nik-status");
      status.replaceChildren(duplicateNotice(error.body.existing_request_id, null));
    }
    markErrors(error);
  }
}

// "+ Permohonan baru": a fresh form each time (a half-typed one left for another page does not linger).
export function newIntake() {
  if (intake.form) reset();
  return show("intake");
}

register("intake", {
  async load() { await regions(); return null; },
  draw() { if (!intake.form) build(); intake.form.nik.focus(); },
});
