// Cakupan: per kecamatan, residents obliged to hold a card, recorded, and holding one; a chart and the table.
import { api, i18n, items, register, shown, t, table } from "./core.js";
import { barChart } from "./chart.js";

register("coverage", {
  async load() { return api("request", "/v1/coverage"); },
  draw(body) {
    const rows = body.kecamatan || items(body);
    document.getElementById("coverage-chart").replaceChildren(barChart(t("coverage.chart_title"),
      rows.map(r => ({ label: r.name, total: r.obliged, parts: [
        { value: r.collected, className: "bar-collected" },
        { value: Math.max(0, r.printed - r.collected), className: "bar-printed" },
        { value: r.backlog, className: "bar-backlog" }] })),
      { legend: [[t("coverage.legend_collected"), "bar-collected"], [t("coverage.legend_printed"), "bar-printed"], [t("coverage.legend_backlog"), "bar-backlog"]] }));
    const keys = rows.length ? Object.keys(rows[0]).filter(k => typeof rows[0][k] !== "object") : [];
    table("coverage-table", body.regency ? rows.concat([{ ...body.regency, name: t("coverage.regency_total") }]) : rows,
      keys.map(k => [i18n.named("field", k), r => shown(r[k]) ?? ""]));
  },
});
