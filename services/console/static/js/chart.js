// Two small SVG charts drawn with DOM calls (no library, no inline style: the CSP allows neither): horizontal
// bars for shares (coverage per kecamatan) and a falling line for the blank-card stock. Each has a <title> and a
// text summary for screen readers; the numbers are also in the table beside it.
const SVG = "http://www.w3.org/2000/svg";

function svg(tag, attrs = {}, ...children) {
  const node = document.createElementNS(SVG, tag);
  for (const [key, value] of Object.entries(attrs)) node.setAttribute(key, value);
  for (const child of children) node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  return node;
}

// rows: [{ label, parts: [{ value, className }], total }] → one bar per row, parts stacked, scaled to total.
export function barChart(title, rows, { width = 640, legend = [] } = {}) {
  const rowHeight = 22, labelWidth = 170, barWidth = width - labelWidth - 60;
  const height = rows.length * rowHeight + 30;
  const chart = svg("svg", { viewBox: `0 0 ${width} ${height}`, width, height, role: "img", "aria-label": title, class: "chart" },
    svg("title", {}, title));
  rows.forEach((row, index) => {
    const y = index * rowHeight + 4;
    chart.append(svg("text", { x: labelWidth - 6, y: y + 14, "text-anchor": "end", class: "chart-label" }, row.label));
    chart.append(svg("rect", { x: labelWidth, y, width: barWidth, height: rowHeight - 6, class: "chart-track" }));
    let x = labelWidth;
    for (const part of row.parts) {
      const w = row.total > 0 ? barWidth * Math.min(part.value, row.total) / row.total : 0;
      chart.append(svg("rect", { x, y, width: Math.max(0, w), height: rowHeight - 6, class: part.className }));
      x += w;
    }
    const share = row.total > 0 ? Math.round(100 * row.parts[0].value / row.total) : 0;
    chart.append(svg("text", { x: labelWidth + barWidth + 6, y: y + 14, class: "chart-label" }, `${share}%`));
  });
  legend.forEach(([text, className], index) => {
    const x = labelWidth + index * 190;
    chart.append(svg("rect", { x, y: height - 18, width: 12, height: 12, class: className }));
    chart.append(svg("text", { x: x + 16, y: height - 8, class: "chart-label" }, text));
  });
  return chart;
}

// points: [[day, value], …] from day 0; a dashed line at `reference` (the reorder point).
export function lineChart(title, points, { width = 520, height = 220, reference = null, xLabel = "", yLabel = "" } = {}) {
  const left = 56, bottom = 34, top = 12, right = 12;
  const maxX = Math.max(1, ...points.map(p => p[0]));
  const maxY = Math.max(1, reference || 0, ...points.map(p => p[1]));
  const sx = x => left + (width - left - right) * x / maxX;
  const sy = y => top + (height - top - bottom) * (1 - y / maxY);
  const chart = svg("svg", { viewBox: `0 0 ${width} ${height}`, width, height, role: "img", "aria-label": title, class: "chart" },
    svg("title", {}, title),
    svg("line", { x1: left, y1: sy(0), x2: width - right, y2: sy(0), class: "chart-axis" }),
    svg("line", { x1: left, y1: top, x2: left, y2: sy(0), class: "chart-axis" }),
    svg("text", { x: left - 6, y: sy(maxY) + 10, "text-anchor": "end", class: "chart-label" }, String(Math.round(maxY))),
    svg("text", { x: left - 6, y: sy(0), "text-anchor": "end", class: "chart-label" }, "0"),
    svg("text", { x: width - right, y: height - 6, "text-anchor": "end", class: "chart-label" }, `${xLabel} ${Math.round(maxX)}`),
    svg("text", { x: left, y: height - 6, class: "chart-label" }, yLabel));
  if (reference !== null) {
    chart.append(svg("line", { x1: left, y1: sy(reference), x2: width - right, y2: sy(reference), class: "chart-reference" }));
  }
  chart.append(svg("polyline", { points: points.map(([x, y]) => `${sx(x)},${sy(y)}`).join(" "), class: "chart-line" }));
  return chart;
}
