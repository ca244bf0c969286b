// History: every cluster task, newest first, with its outcome and duration.

import { outcome } from "../dag.js";
import { elapsed, formatSeconds, formatTime, h, parseTime, replace, stateTag, table } from "../view.js";

export async function render(ctx, main) {
  const dags = await ctx.agent.call("GET", "/api/v1/task/dags/ob?show_details=false");
  const newest = [...dags].sort((a, b) => (parseTime(b.start_time) ?? Infinity) - (parseTime(a.start_time) ?? Infinity)
                                          || b.dag_id - a.dag_id);
  const now = ctx.agent.now() * 1000;
  const rows = newest.map((d) => [
    h("a", { href: `#/task/${encodeURIComponent(d.id)}` }, d.id), d.name, stateTag(d.state),
    outcome(d) !== d.state ? outcome(d) : "", `${d.stage}/${d.max_stage}`, formatTime(d.start_time),
    formatTime(d.end_time), { cell: formatSeconds(elapsed(d.start_time, d.end_time, now)), class: "num" },
  ]);
  replace(main, h("h1", {}, "History"),
    table(["id", "task", "state", "outcome", "stage", "started", "ended", ["duration", "num"]], rows, { id: "history" }));
}
