// The SQL probe's figures per second as two small inline SVG line charts: success % and p99 ms.

import { h, svg } from "./view.js";

const WIDTH = 360;
const HEIGHT = 90;
const PAD = { left: 34, right: 6, top: 8, bottom: 16 };

function line(points, cls) {
  if (!points.length) return null;
  const d = points.map(([x, y], i) => `${i ? "L" : "M"}${x.toFixed(1)},${y.toFixed(1)}`).join(" ");
  return svg("path", { d, class: cls });
}

function chart(title, seconds, value, { min, max, unit, cls, id }) {
  const w = WIDTH - PAD.left - PAD.right;
  const hgt = HEIGHT - PAD.top - PAD.bottom;
  const first = seconds.length ? seconds[0].at : 0;
  const last = seconds.length ? seconds[seconds.length - 1].at : 1;
  const span = Math.max(1, last - first);
  const top = max(seconds);
  const x = (s) => PAD.left + (w * (s.at - first)) / span;
  const y = (v) => PAD.top + hgt - (hgt * (Math.min(v, top) - min)) / Math.max(1e-9, top - min);
  const points = seconds.map((s) => [x(s), y(value(s))]);
  const latest = seconds.length ? value(seconds[seconds.length - 1]) : null;
  const label = `${title}: ${latest === null ? "no data yet" : `${latest.toFixed(1)} ${unit} now`}, over the last `
    + `${seconds.length} s`;
  return h("figure", { class: "chart", id },
    h("figcaption", { class: "title" }, label),
    svg("svg", { width: WIDTH, height: HEIGHT, viewBox: `0 0 ${WIDTH} ${HEIGHT}`, role: "img", "aria-label": label },
      svg("line", { x1: PAD.left, y1: PAD.top + hgt, x2: WIDTH - PAD.right, y2: PAD.top + hgt, class: "axis" }),
      svg("line", { x1: PAD.left, y1: PAD.top, x2: PAD.left, y2: PAD.top + hgt, class: "axis" }),
      svg("text", { x: PAD.left - 4, y: PAD.top + 8, "text-anchor": "end" }, `${top.toFixed(0)}`),
      svg("text", { x: PAD.left - 4, y: PAD.top + hgt, "text-anchor": "end" }, `${min}`),
      svg("text", { x: WIDTH - PAD.right, y: HEIGHT - 3, "text-anchor": "end" }, "now"),
      svg("text", { x: PAD.left, y: HEIGHT - 3 }, seconds.length ? `-${span} s` : ""),
      line(points, cls)));
}

// The report of GET /api/v1/ob/upgrade/probe (SqlProbeReport).
export function probeView(report) {
  const seconds = (report.per_second || []).filter((s) => s.samples > 0);
  const t = report.total;
  const figure = (name, value, id) => h("div", { id }, h("b", {}, value), h("span", { class: "muted" }, name));
  return h("div", { id: "probe" },
    h("div", { class: "figures" },
      figure("statements ok", `${t.success_pct.toFixed(2)} %`, "probe-ok"),
      figure("p99", `${t.p99_ms.toFixed(0)} ms`, "probe-p99"),
      figure("statements", `${t.samples} (${t.errors} failed)`, "probe-samples"),
      figure("longest write gap", `${(t.longest_write_gap_ms / 1000).toFixed(1)} s`, "probe-gap"),
      figure("probe", report.running ? "running" : "stopped", "probe-running")),
    h("div", { class: "charts" },
      chart("success", seconds, (s) => s.success_pct, { min: 0, max: () => 100, unit: "%", cls: "line-ok",
                                                        id: "chart-success" }),
      chart("p99 latency", seconds, (s) => s.p99_ms, {
        min: 0, unit: "ms", cls: "line-p99", id: "chart-p99",
        max: (list) => Math.max(10, ...list.map((s) => s.p99_ms)) }),
    ));
}
