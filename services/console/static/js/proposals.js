// Usulan: a kecamatan's proposal file (CSV or JSON) uploaded with a progress bar; each proposal's report (the
// refused rows, field and reason); the office's review: approve every valid row at once, or approve or reject
// row by row with a reason. Clerks upload and read their own; operators and admins decide.
import { api, claims, definitions, el, i18n, items, register, say, sayKey, shown, state, t, table } from "./core.js";
import { field, heading, submit } from "./forms.js";

const proposals = { built: false, open: null };

// XMLHttpRequest, not fetch: only it reports the upload's progress.
function upload(file, progress) {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open("POST", state.services.request + "/v1/batches");
    xhr.setRequestHeader("Authorization", "Bearer " + state.token);
    xhr.upload.onprogress = event => { if (event.lengthComputable) { progress.max = event.total; progress.value = event.loaded; } };
    xhr.onload = () => {
      let body = null;
      try { body = JSON.parse(xhr.responseText); } catch { /* not JSON */ }
      if (xhr.status >= 200 && xhr.status < 300) resolve(body);
      else reject(new Error((body && (body.detail || body.title)) || String(xhr.status)));
    };
    xhr.onerror = () => reject(new Error(t("msg.network")));
    const form = new FormData();
    form.append("file", file, file.name);
    xhr.send(form);
  });
}

async function send(event) {
  event.preventDefault();
  const file = event.target.file.files[0];
  if (!file) { sayKey("proposal.choose_file"); return; }
  const progress = document.getElementById("upload-progress");
  progress.hidden = false; progress.value = 0;
  try {
    const batch = await upload(file, progress);
    event.target.reset();
    sayKey("proposal.uploaded", { accepted: batch.accepted_rows, rejected: batch.rejected_rows });
    proposals.open = batch.id;
    state.shown.proposals = await load();
    draw(state.shown.proposals);
  } catch (error) { say(error.message); } finally { progress.hidden = true; }
}

async function decide(body) {
  try {
    await api("request", `/v1/batches/${proposals.open}/decisions`, { method: "POST", body: JSON.stringify(body) });
    sayKey("proposal.decided");
    state.shown.proposals = await load();
    draw(state.shown.proposals);
  } catch (error) { say(error.message); }
}

function rowActions(r) {
  if (r.status !== "received") return i18n.named("status", r.status);
  const reason = el("input", { name: "reject-reason", size: 18, maxlength: 300, placeholder: t("proposal.reject_reason"), "aria-label": t("proposal.reject_reason") });
  return el("span", {},
    el("button", { type: "button", class: "action", onclick: () => decide({ rows: [{ row: r.batch_row, decision: "approve" }] }) }, t("action.approve")),
    reason,
    el("button", { type: "button", class: "action", onclick: () => decide({ rows: [{ row: r.batch_row, decision: "reject", reason: reason.value.trim() || null }] }) }, t("action.reject")));
}

function detail(open) {
  if (!open) return "";
  const { batch, report, rows } = open;
  const who = claims(state.token) || {};
  const decides = who.role === "admin" || who.role === "operator";
  return el("div", { id: "proposal-detail" },
    el("h3", {}, `${t("proposal.heading_one")} ${batch.filename || ""} `, el("small", { class: "code" }, batch.id)),
    definitions(el("dl", {}), { ...batch, status: i18n.named("batch_status", batch.status) },
      ["status", "total_rows", "accepted_rows", "rejected_rows", "pending_rows", "approved_rows", "declined_rows", "created_at", "decided_by"]),
    decides && batch.pending_rows > 0
      ? el("p", {}, el("button", { type: "button", class: "primary", id: "approve-all", onclick: () => decide({ approve: "all_valid" }) },
        t("action.approve_all", { count: batch.pending_rows }))) : "",
    heading("h4", "proposal.rows"),
    table(el("table", { id: "proposal-rows" }), items(rows).sort((a, b) => (a.batch_row ?? 0) - (b.batch_row ?? 0)), [
      [t("col.row"), r => r.batch_row ?? "–"], [t("col.name"), r => r.card.name],
      [t("col.status"), r => decides ? rowActions(r) : i18n.named("status", r.status)],
    ]),
    heading("h4", "proposal.refused"),
    table(el("table", { id: "proposal-errors" }), report.errors || [], [
      [t("col.row"), e => e.row ?? "–"], [t("col.field"), e => e.field], [t("col.reason"), e => e.reason],
    ]));
}

async function load() {
  const list = await api("request", "/v1/batches?limit=50");
  let open = null;
  if (proposals.open) {
    const [batch, report, rows] = await Promise.all([
      api("request", `/v1/batches/${proposals.open}`), api("request", `/v1/batches/${proposals.open}/report?limit=200`),
      api("request", `/v1/requests?batch_id=${encodeURIComponent(proposals.open)}&limit=500`)]);
    open = { batch, report, rows };
  }
  return { list, open };
}

function build() {
  const form = el("form", { id: "proposal-form", class: "filters" },
    field("proposal.file", el("input", { type: "file", name: "file", accept: ".csv,.json,text/csv,application/json", required: true }), { hint: "proposal.file_hint" }),
    submit("action.upload"), el("progress", { id: "upload-progress", hidden: true, "aria-label": t("proposal.progress"), "data-i18n-label": "proposal.progress" }));
  form.addEventListener("submit", send);
  document.getElementById("proposals").replaceChildren(heading("h2", "proposal.upload"), form,
    heading("h3", "proposal.list"), el("table", { id: "proposal-list" }), el("div", { id: "proposal-open" }));
  proposals.built = true;
}

function draw({ list, open }) {
  if (!proposals.built) build();
  table("proposal-list", items(list), [
    [t("col.proposal"), b => el("button", { type: "button", class: "link", onclick: async () => { proposals.open = b.id; state.shown.proposals = await load(); draw(state.shown.proposals); } }, b.filename || b.id)],
    [t("col.status"), b => i18n.named("batch_status", b.status)],
    [t("field.total_rows"), b => b.total_rows], [t("field.accepted_rows"), b => b.accepted_rows],
    [t("field.rejected_rows"), b => b.rejected_rows], [t("field.pending_rows"), b => b.pending_rows],
    [t("field.submitted_by"), b => b.submitted_by], [t("field.created_at"), b => shown(b.created_at)],
  ]);
  document.getElementById("proposal-open").replaceChildren(detail(open));
}

register("proposals", { load, draw });
