// Cakupan: per kecamatan, residents obliged, recorded and holding their card.
import { api, i18n, items, register, shown, t, table } from "./core.js";

register("coverage", {
  async load() { return api("request", "/v1/coverage"); },
  draw(body) {
    const rows = body.kecamatan || items(body);
    const keys = rows.length ? Object.keys(rows[0]).filter(k => typeof rows[0][k] !== "object") : [];
    table("coverage-table", body.regency ? rows.concat([{ ...body.regency, name: t("coverage.regency_total") }]) : rows,
      keys.map(k => [i18n.named("field", k), r => shown(r[k]) ?? ""]));
  },
});
