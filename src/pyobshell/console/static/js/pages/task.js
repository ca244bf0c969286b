// Task: one DAG live (polled twice a second): progress by section (zone) and stage, the current
// step's latest log, the SQL probe's figures and charts, the operators that apply now (each
// confirmed, saying what it will do) and, after a failure, the failed step's logs from every
// agent that ran it.

import { failedNode, isFinished, operators, outcome, pauseOf, sections } from "../dag.js";
import { probeView } from "../chart.js";
import { confirmDialog, elapsed, errorBox, formatSeconds, formatTime, h, replace, stateTag, table } from "../view.js";

const POLL_MS = 500;
const IDLE_POLL_MS = 3000; // a finished task: someone may still RETRY it from elsewhere
const PROBE_MS = 1000;

function taskLines(task) {
  const where = `${task.execute_agent.ip}:${task.execute_agent.port}`;
  return h("div", { class: "sub-task", "data-agent": where },
    h("div", {}, `sub-task ${task.id} "${task.name}" on ${where}, attempt ${task.execute_times}, `, stateTag(task.state)),
    h("pre", { class: "log" }, (task.task_logs && task.task_logs.length ? task.task_logs : ["(no log)"]).join("\n")));
}

function progressView(dag, now) {
  const pause = pauseOf(dag);
  const rows = sections(dag).map((section) => {
    const waiting = pause && pause.in_effect && section.state !== "FAILED"
      && section.nodes.some((x) => x.stage === dag.stage && x.node.state === "PENDING");
    const shown = waiting ? "PAUSED" : section.state;
    const running = section.nodes.find((x) => x.node.state === "RUNNING" || x.node.state === "FAILED")
      || section.nodes.find((x) => x.node.state !== "SUCCEED");
    const done = section.nodes.filter((x) => x.node.state === "SUCCEED").length;
    const starts = section.nodes.map((x) => x.node.start_time);
    const ends = section.nodes.map((x) => x.node.end_time);
    const seconds = section.state === "PENDING" ? null
      : elapsed(starts.find((t) => elapsed(t, t) !== null), section.state === "SUCCEED" ? ends[ends.length - 1] : null, now);
    return h("tr", { "data-section": section.name, "data-state": shown },
      h("th", { scope: "row" }, section.name), h("td", {}, stateTag(shown)),
      h("td", { class: "num" }, `${done}/${section.nodes.length}`),
      h("td", {}, h("span", { class: "chips" }, section.nodes.map((x) => h("span", {
        class: `chip state-${x.node.state}`, "data-node": x.node.name, "data-state": x.node.state, title: `${x.stage}. ${x.node.name}: ${x.node.state}` })))),
      h("td", {}, running && section.state !== "SUCCEED" && section.state !== "PENDING"
        ? `${running.stage}. ${running.node.name}` : ""),
      h("td", { class: "num" }, formatSeconds(seconds)));
  });
  return h("table", { id: "progress" },
    h("thead", {}, h("tr", {}, ["section", "state", "steps", "stages", "current step", "elapsed"].map((t) => h("th", { scope: "col" }, t)))),
    h("tbody", {}, rows));
}

function stepsView(dag, now) {
  const rows = (dag.nodes || []).map((node, i) => {
    const logs = (node.sub_tasks || []).flatMap((t) => t.task_logs || []);
    return [{ cell: String(i + 1), class: "num" }, node.name, stateTag(node.state),
            { cell: formatSeconds(elapsed(node.start_time, node.end_time, now)), class: "num" },
            logs.length ? logs[logs.length - 1] : ""];
  });
  return table([["#", "num"], "step", "state", ["elapsed", "num"], "latest log"], rows, { id: "steps" });
}

function currentView(dag) {
  const node = (dag.nodes || [])[dag.stage - 1];
  if (!node) return h("p", { class: "muted" }, "No step yet.");
  const tasks = node.sub_tasks || [];
  return h("div", { id: "current-step" },
    h("p", {}, h("strong", {}, `Stage ${dag.stage}/${dag.max_stage}: ${node.name}`), " ", stateTag(node.state)),
    tasks.map((t) => {
      const logs = t.task_logs || [];
      return h("div", { class: "latest", "data-agent": `${t.execute_agent.ip}:${t.execute_agent.port}` },
        h("span", { class: "muted" }, `${t.execute_agent.ip}:${t.execute_agent.port}: `),
        h("code", {}, logs.length ? logs[logs.length - 1] : "(no log yet)"));
    }));
}

function failureView(dag) {
  const failed = failedNode(dag);
  if (!failed || dag.state !== "FAILED") return null;
  const tasks = failed.node.sub_tasks || [];
  const ordered = [...tasks.filter((t) => t.state === "FAILED"), ...tasks.filter((t) => t.state !== "FAILED")];
  return h("section", { id: "failure", "aria-labelledby": "failure-title" },
    h("h2", { id: "failure-title" }, `Failed at stage ${failed.stage}: ${failed.node.name}`),
    h("p", {}, `Logs of this step from every agent that ran it (${ordered.length}):`),
    ordered.map(taskLines));
}

export async function render(ctx, main, params) {
  let gid = params[0];
  if (!gid) {
    try {
      gid = (await ctx.agent.call("GET", "/api/v1/task/dag/maintain/ob?show_details=false")).id;
    } catch (error) {
      if (error.status !== 404) throw error;
      replace(main, h("h1", {}, "Task"), h("p", {}, "No upgrade has run on this cluster yet. ",
        h("a", { href: "#/upgrade" }, "Start one"), " or see the ", h("a", { href: "#/history" }, "history"), "."));
      return null;
    }
  }
  const title = h("h1", {}, `Task ${gid}`);
  const summary = h("dl", { class: "kv", id: "task-summary" });
  const pauseBox = h("div", { id: "pause" });
  const opsBox = h("section", { class: "operators", id: "operators", "aria-label": "Operators" });
  const opsStatus = h("div", { id: "operator-status" });
  const failureBox = h("div", { id: "failure-box" });
  const progressBox = h("div", { id: "progress-box" });
  const currentBox = h("div", { id: "current-box" });
  const probeBox = h("div", { id: "probe-box" }, h("p", { class: "muted" }, "No probe figures yet."));
  const stepsBox = h("div");
  const steps = h("details", { id: "all-steps" }, h("summary", {}, "Every step"), stepsBox);
  const pollError = h("div", { id: "poll-error" });
  replace(main, title, summary, pauseBox, pollError, opsBox, opsStatus, failureBox,
    h("h2", {}, "Progress"), progressBox, h("h2", {}, "Current step"), currentBox,
    h("h2", {}, "What clients see (SQL probe)"), probeBox, steps);

  let stopped = false;
  let timer = null;
  let probeTimer = null;
  let opsKey = "";
  let dag = null;

  function renderOperators() {
    const ops = operators(dag);
    const key = JSON.stringify([dag.state, ops.map((o) => [o.op, o.what])]);
    if (key === opsKey) return;
    opsKey = key;
    if (!ops.length) {
      replace(opsBox, h("p", { class: "muted" }, "No operator applies: the task has ended."));
      return;
    }
    replace(opsBox, h("h2", {}, "Operators"), ops.map((o) => {
      const button = h("button", { type: "button", class: o.danger ? "danger" : "primary", "data-operator": o.op }, o.op);
      button.addEventListener("click", async () => {
        const yes = await confirmDialog({ title: `${o.op} task ${gid}?`, body: h("p", {}, o.what),
                                          confirm: o.op, danger: !!o.danger });
        if (!yes) return;
        button.disabled = true;
        try {
          await ctx.agent.call("POST", `/api/v1/task/dag/${encodeURIComponent(gid)}`, { operator: o.op });
          replace(opsStatus, h("p", { class: "notice" }, `${o.op} accepted.`));
          opsKey = "";
          poll();
        } catch (error) {
          replace(opsStatus, errorBox(error, `${o.op} refused:`));
        } finally {
          button.disabled = false;
        }
      });
      return h("div", { class: "op" }, button, h("span", {}, o.what));
    }));
  }

  function renderDag() {
    const now = ctx.agent.now() * 1000;
    title.textContent = `Task ${dag.id}: ${dag.name}`;
    replace(summary,
      h("dt", {}, "state"), h("dd", { id: "task-state", "data-state": dag.state }, stateTag(dag.state),
        outcome(dag) !== dag.state ? ` (${outcome(dag)})` : ""),
      h("dt", {}, "stage"), h("dd", { id: "task-stage" }, `${dag.stage}/${dag.max_stage}`),
      h("dt", {}, "operator"), h("dd", {}, dag.operator),
      h("dt", {}, "started"), h("dd", {}, formatTime(dag.start_time) || "not yet"),
      h("dt", {}, "elapsed"), h("dd", {}, formatSeconds(elapsed(dag.start_time, dag.end_time, now)) || "–"));
    const pause = pauseOf(dag);
    replace(pauseBox, pause ? h("div", { class: "notice", id: "pause-notice" },
      h("strong", {}, pause.in_effect ? "Paused: " : "Pausing (the running step finishes): "), pause.reason,
      pause.gate && !String(pause.reason).includes(pause.gate) ? ` (gate: ${pause.gate})` : "",
      ". RESUME goes on.") : null);
    renderOperators();
    replace(failureBox, failureView(dag));
    replace(progressBox, progressView(dag, now));
    replace(currentBox, currentView(dag));
    replace(stepsBox, stepsView(dag, now));
    if (dag.additional_data && dag.additional_data.sqlProbe && !probeBox.dataset.live) {
      replace(probeBox, probeView(dag.additional_data.sqlProbe));
    }
  }

  let inflight = false;
  async function poll() {
    clearTimeout(timer);
    if (stopped || inflight) return;
    inflight = true;
    try {
      dag = await ctx.agent.call("GET", `/api/v1/task/dag/${encodeURIComponent(gid)}?show_details=true`);
      if (stopped) return;
      pollError.replaceChildren();
      renderDag();
    } catch (error) {
      if (stopped || !ctx.agent.signedIn) return;
      replace(pollError, errorBox(error, "Cannot read the task:"));
      if (dag === null && error.status === 404) return; // no such task: nothing to follow
    } finally {
      inflight = false;
    }
    if (!stopped) timer = setTimeout(poll, dag && isFinished(dag) ? IDLE_POLL_MS : POLL_MS);
  }

  async function pollProbe() {
    if (stopped) return;
    try {
      const report = await ctx.agent.call("GET", "/api/v1/ob/upgrade/probe");
      if (stopped) return;
      if (dag && report.dag_id === dag.dag_id) {
        probeBox.dataset.live = "yes";
        replace(probeBox, probeView(report));
      }
    } catch (error) {
      if (stopped || !ctx.agent.signedIn) return;
      if (error.status !== 404) replace(probeBox, errorBox(error, "SQL probe:"));
    }
    if (!stopped) probeTimer = setTimeout(pollProbe, dag && isFinished(dag) ? IDLE_POLL_MS : PROBE_MS);
  }

  await poll();
  pollProbe();
  return () => {
    stopped = true;
    clearTimeout(timer);
    clearTimeout(probeTimer);
  };
}
