// Kunjungan (e-Mobile KTP): the gap per kecamatan (obliged − recorded) as a chart, the office's per-desa figures
// imported from a CSV, a visit plan (desa ranked by gap and distance, neighbours grouped within a day's capacity)
// whose days are confirmed as visits, and the visits with their outcome (residents recorded per desa).
import { api, el, i18n, items, register, say, sayKey, state, t, table } from "./core.js";
import { barChart } from "./chart.js";
import { field, heading, input, submit } from "./forms.js";

const visits = { built: false, plan: null };

async function importFigures(event) {
  event.preventDefault();
  const file = event.target.file.files[0];
  if (!file) return;
  const response = await fetch(state.services.request + "/v1/desa-figures", {
    method: "PUT", body: await file.text(), headers: { Authorization: "Bearer " + state.token, "Content-Type": "text/csv" },
  });
  const body = await response.json().catch(() => null);
  if (!response.ok) {
    const fields = ((body && body.errors) || []).slice(0, 5).map(e => `${e.field}: ${e.reason}`).join("; ");
    say(`request: ${(body && body.detail) || response.status}${fields ? " (" + fields + ")" : ""}`);
    return;
  }
  event.target.reset();
  sayKey("visit.imported");
  await reload();
}

async function makePlan(event) {
  event.preventDefault();
  const form = event.target;
  try {
    visits.plan = await api("request", `/v1/mobile-visits/plan?days=${form.days.value}&per_day=${form.per_day.value}`);
    drawPlan();
  } catch (error) { say(error.message); }
}

async function confirmDay(day) {
  const body = { date: day.date, village_codes: day.desa.map(d => d.code), team: t("visit.default_team") };
  try {
    await api("request", "/v1/mobile-visits", { method: "POST", body: JSON.stringify(body) });
    sayKey("visit.confirmed", { date: day.date });
    visits.plan.days = visits.plan.days.filter(d => d !== day);
    await reload();
  } catch (error) { say(error.message); }
}

function drawPlan() {
  const place = document.getElementById("visit-plan");
  if (!visits.plan) { place.replaceChildren(); return; }
  place.replaceChildren(table(el("table", { id: "visit-plan-days" }), visits.plan.days, [
    [t("col.date"), d => d.date],
    [t("col.desa"), d => d.desa.map(x => `${x.name} (${x.kecamatan}, ${x.gap}${x.distance_km != null ? `, ${x.distance_km} km` : ""})`).join("; ")],
    [t("col.expected"), d => el("span", { class: d.over_capacity ? "bad" : "" }, String(d.expected_residents))],
    ["", d => el("button", { type: "button", class: "action", onclick: () => confirmDay(d) }, t("action.confirm"))],
  ]), el("p", { class: "hint" }, t("visit.unplanned", { desa: visits.plan.unplanned_desa, residents: visits.plan.unplanned_residents })));
}

function build() {
  const upload = el("form", { id: "figures-form", class: "filters" },
    field("visit.figures_file", el("input", { type: "file", name: "file", accept: ".csv,text/csv", required: true }), { hint: "visit.figures_hint" }),
    submit("action.upload"));
  upload.addEventListener("submit", importFigures);
  const plan = el("form", { id: "plan-form", class: "filters" },
    field("field.days", input("days", { type: "number", min: 1, max: 60, value: 5, size: 4 })),
    field("field.per_day", input("per_day", { type: "number", min: 1, max: 2000, value: 150, size: 5 })),
    submit("action.plan"));
  plan.addEventListener("submit", makePlan);
  document.getElementById("visits").replaceChildren(heading("h2", "visit.heading"),
    el("div", { id: "gap-chart" }), upload, heading("h3", "visit.plan"), plan, el("div", { id: "visit-plan" }),
    heading("h3", "visit.visits"), el("table", { id: "visit-list" }));
  visits.built = true;
}

async function load() {
  const [figures, list] = await Promise.all([api("request", "/v1/desa-figures"), api("request", "/v1/mobile-visits")]);
  return { figures, list };
}

async function reload() { state.shown.visits = await load(); draw(state.shown.visits); }

function draw({ figures, list }) {
  if (!visits.built) build();
  const byKecamatan = {};
  for (const d of figures.items) {
    const k = byKecamatan[d.kecamatan] ||= { label: d.kecamatan, obliged: 0, recorded: 0 };
    k.obliged += d.obliged; k.recorded += d.recorded;
  }
  const rows = Object.values(byKecamatan).map(k => ({ label: k.label, total: k.obliged,
    parts: [{ value: k.recorded, className: "bar-collected" }, { value: Math.max(0, k.obliged - k.recorded), className: "bar-backlog" }] }));
  document.getElementById("gap-chart").replaceChildren(rows.length
    ? barChart(t("visit.chart_title"), rows, { legend: [[t("visit.legend_recorded"), "bar-collected"], [t("visit.legend_gap"), "bar-backlog"]] })
    : el("p", { class: "hint" }, t("visit.no_figures")));
  table("visit-list", items(list), [
    [t("col.date"), v => v.date], [t("col.state"), v => i18n.named("visit_status", v.status)], [t("col.team"), v => v.team],
    [t("col.desa"), v => (v.desa || []).map(d => `${d.name}${d.recorded != null ? ` (${d.recorded})` : ""}`).join(", ")],
  ]);
  drawPlan();
}

register("visits", { load, draw });
