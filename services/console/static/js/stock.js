// Blangko: the blank-card ledger's invariant and its tranches.
import { api, el, i18n, register, shown, t, table } from "./core.js";

register("stock", {
  async load() { return api("inventory", "/v1/stock/invariant"); },
  draw(invariant) {
    document.getElementById("invariant").replaceChildren(
      el("span", { class: invariant.holds ? "ok" : "bad" }, t(invariant.holds ? "stock.holds" : "stock.broken")),
      t("stock.sentence", invariant));
    const tranches = invariant.tranches || [];
    const keys = tranches.length ? Object.keys(tranches[0]).filter(k => typeof tranches[0][k] !== "object") : [];
    table("tranches", tranches, keys.map(k => [i18n.named("field", k), row => shown(row[k])]));
  },
});
