// Blangko: the blank-card ledger's invariant and tranches; receive a tranche from the directorate, record a
// spoiled blank (with its witness), follow one serial's custody, the month's destruction minutes (berita acara
// pemusnahan) to print and sign, and the stock-out forecast as a chart.
import { act, api, claims, el, i18n, register, say, shown, state, t, table } from "./core.js";
import { lineChart } from "./chart.js";
import { field, heading, input, officeToday, select, submit, values } from "./forms.js";

const stock = { built: false };

function trancheForm() {
  const form = el("form", { id: "tranche-form", class: "stacked" }, heading("h3", "stock.receive"),
    field("field.reference", input("reference", { required: true, maxlength: 100 })),
    field("field.received_on", input("received_on", { type: "date", required: true, value: officeToday() })),
    field("field.first_serial", input("first", { required: true, maxlength: 32, pattern: "[A-Za-z]+[0-9]+", placeholder: "KTP00010001" })),
    field("field.last_serial", input("last", { required: true, maxlength: 32, pattern: "[A-Za-z]+[0-9]+", placeholder: "KTP00010500" })),
    field("field.received_by", input("received_by", { required: true, maxlength: 200, value: (claims(state.token) || {}).sub || "" })),
    submit("action.receive"));
  form.addEventListener("submit", event => {
    event.preventDefault();
    const data = values(form);
    const body = { reference: data.reference, received_on: data.received_on, received_by: data.received_by,
      ranges: [{ first: data.first.toUpperCase(), last: data.last.toUpperCase() }] };
    act("inventory", "/v1/tranches", body, { done: () => { form.reset(); form.received_on.value = officeToday(); say(t("stock.received", { reference: body.reference })); } });
  });
  return form;
}

function spoilageForm() {
  const form = el("form", { id: "spoilage-form", class: "stacked" }, heading("h3", "stock.spoilage"),
    field("field.serial", input("serial", { required: true, maxlength: 32, pattern: "[A-Za-z]+[0-9]+" })),
    field("field.spoilage_reason", select("reason", "spoilage", ["failed_print", "failed_encode", "damaged", "data_change"])),
    field("field.witness", input("witness", { required: true, maxlength: 200 })),
    submit("action.record"));
  form.addEventListener("submit", event => {
    event.preventDefault();
    const data = values(form);
    act("inventory", "/v1/spoilage", { ...data, serial: data.serial.toUpperCase() }, { done: () => { form.reset(); say(t("stock.spoiled", { serial: data.serial.toUpperCase() })); } });
  });
  return form;
}

function custodyForm() {
  const result = el("div", { id: "custody-result" });
  const form = el("form", { id: "custody-form", class: "filters" },
    field("field.serial", input("serial", { required: true, maxlength: 32 })), submit("action.look"));
  form.addEventListener("submit", async event => {
    event.preventDefault();
    try {
      const custody = await api("inventory", `/v1/serials/${encodeURIComponent(form.serial.value.trim().toUpperCase())}`);
      result.replaceChildren(
        el("p", {}, `${custody.blank.serial}: `, el("strong", {}, i18n.named("blank_state", custody.blank.state)), ` — ${custody.tranche_reference}`),
        table(el("table", {}), custody.movements, [
          [t("col.when"), m => shown(m.at)], [t("col.movement"), m => i18n.named("movement", m.kind)],
          [t("col.state"), m => `${m.from_state || "–"} → ${m.to_state || "–"}`], [t("col.request"), m => m.request_id || "–"],
          [t("col.reason"), m => m.reason || "–"], [t("col.actor"), m => m.actor],
        ]));
    } catch (error) { say(error.message); }
  });
  return el("div", {}, heading("h3", "stock.custody"), form, result);
}

// The minutes are an HTML page of the inventory's: fetched with the token, then offered as a file to open and print.
function minutesForm() {
  const link = el("a", { id: "minutes-link", hidden: true });
  const month = input("month", { type: "month", required: true, value: officeToday().slice(0, 7) });
  const form = el("form", { id: "minutes-form", class: "filters" }, field("field.month", month), submit("action.make_minutes"), link);
  form.addEventListener("submit", async event => {
    event.preventDefault();
    const response = await fetch(`${state.services.inventory}/v1/reports/spoilage/minutes?month=${month.value}`,
      { headers: { Authorization: "Bearer " + state.token } });
    if (!response.ok) { say(`inventory: ${response.status}`); return; }
    if (link.href) URL.revokeObjectURL(link.href);
    link.href = URL.createObjectURL(await response.blob());
    link.download = `berita-acara-pemusnahan-${month.value}.html`;
    link.textContent = t("stock.minutes_ready", { month: month.value });
    link.hidden = false;
  });
  return el("div", {}, heading("h3", "stock.minutes"), form);
}

// The forecast's line: the available blanks falling at the recent rate (or the printers' daily capacity while a
// backlog waits) until they run out, beside the reorder point.
function forecastChart(forecast) {
  const rate = Math.max(forecast.rate_per_day || 0, forecast.backlog ? Math.min(forecast.daily_capacity || 0, forecast.backlog) : 0);
  const days = rate > 0 ? Math.min(120, Math.ceil(forecast.available / rate)) : 30;
  const points = [];
  for (let day = 0; day <= days; day += Math.max(1, Math.floor(days / 40))) points.push([day, Math.max(0, forecast.available - rate * day)]);
  points.push([days, Math.max(0, forecast.available - rate * days)]);
  return lineChart(t("stock.forecast_title"), points, { reference: forecast.reorder_point, xLabel: t("stock.days"), yLabel: t("stock.blanks") });
}

register("stock", {
  async load() {
    const [invariant, forecast] = await Promise.all([api("inventory", "/v1/stock/invariant"), api("inventory", "/v1/forecast")]);
    return { invariant, forecast };
  },
  draw({ invariant, forecast }) {
    if (!stock.built) {
      document.getElementById("stock-forms").replaceChildren(trancheForm(), spoilageForm());
      document.getElementById("stock-custody").replaceChildren(custodyForm(), minutesForm());
      stock.built = true;
    }
    document.getElementById("invariant").replaceChildren(
      el("span", { class: invariant.holds ? "ok" : "bad" }, t(invariant.holds ? "stock.holds" : "stock.broken")),
      t("stock.sentence", invariant));
    const tranches = invariant.tranches || [];
    const keys = tranches.length ? Object.keys(tranches[0]).filter(k => typeof tranches[0][k] !== "object") : [];
    table("tranches", tranches, keys.map(k => [i18n.named("field", k), row => shown(row[k])]));
    document.getElementById("forecast-chart").replaceChildren(forecastChart(forecast));
    document.getElementById("forecast-note").textContent = forecast.projected_stock_out_on
      ? t("stock.stock_out_on", { date: forecast.projected_stock_out_on, days: Math.round(forecast.days_of_cover ?? 0) }) : forecast.projection_note;
  },
});

