// Ringkasan: the queue, the blank-card stock, the forecast and the printers at a glance.
import { api, definitions, items, register, say, table } from "./core.js";
import { printerColumns } from "./printers.js";

register("overview", {
  async load() {
    return Promise.allSettled([
      api("request", "/v1/queue/stats"), api("inventory", "/v1/stock"),
      api("inventory", "/v1/forecast"), api("gateway", "/v1/printers"),
    ]);
  },
  draw([queue, stock, forecast, printers]) {
    definitions("queue-stats", queue.value, ["queued", "urgent_queued", "regular_queued", "printing", "needs_review", "printed_today", "daily_capacity"]);
    definitions("stock-summary", stock.value, ["received", "available", "reserved", "consumed", "spoiled", "urgent_reserve"]);
    definitions("forecast", forecast.value, ["rate_per_day", "days_of_cover", "projected_stock_out_on", "backlog", "shortfall", "reorder_point", "suggested_quantity"]);
    table("overview-printers", items(printers.value), printerColumns(false));
    const failed = [queue, stock, forecast, printers].filter(r => r.status === "rejected");
    say(failed.map(r => r.reason.message).join("; "));
  },
});
