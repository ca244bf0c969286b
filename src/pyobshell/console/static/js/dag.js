// A DAG as a person reads it: its nodes in sections (packages, checks, each zone or all servers,
// finish, cleanup), the same grouping as the command line's live view (cli/dag_view.py), and
// which operators apply to it now (engine/operators.py).

const HOP_START = "Backup parameters";
const HEALTH_CHECK = "Execute upgrade health checker script";
const REINSTALL = "Reinstall and restart observer";
const POST_SCRIPT = "Execute upgrade post script";
const FINALIZE_GATE = "Wait for approval to finalize";
const AFTER_ZONE = ["Soak after ", "Wait for approval after "];
const CLEANUP_NODE = "Remove upgrade check task dir";
const ALL_SERVERS = "all servers";

export function sectionNames(names) {
  const hops = names.filter((n) => n === HOP_START).length;
  if (hops === 0) return names.map(() => "task");
  const sections = [];
  let hop = 0;
  let zone = null;
  let phase = "checks";
  names.forEach((name, i) => {
    const following = names[i + 1] || "";
    const previous = sections[sections.length - 1] || "";
    if (name === HOP_START) [hop, zone, phase] = [hop + 1, null, "checks"];
    if (name.startsWith("Stop ")) zone = name.slice(5);
    if (name === POST_SCRIPT || name === FINALIZE_GATE) phase = "finish";
    let section;
    const gate = AFTER_ZONE.find((prefix) => name.startsWith(prefix));
    if (hop === 0) section = "packages";
    else if (name === CLEANUP_NODE) section = "cleanup";
    else if (zone !== null) section = zone;
    else if (gate) section = name.slice(gate.length);
    else if (name === HEALTH_CHECK && following.startsWith("Stop ")) section = following.slice(5);
    else if (name === REINSTALL || (name === HEALTH_CHECK && previous.endsWith(ALL_SERVERS))) section = ALL_SERVERS;
    else section = phase;
    if (hops > 1 && section !== "packages" && section !== "cleanup") section = `hop ${hop} ${section}`;
    sections.push(section);
    if (name.startsWith("Start ")) zone = null;
  });
  return sections;
}

export function sectionState(states) {
  if (states.includes("FAILED")) return "FAILED";
  if (states.every((s) => s === "SUCCEED")) return "SUCCEED";
  if (states.includes("RUNNING") || states.includes("SUCCEED")) return "RUNNING";
  return "PENDING";
}

// [{name, state, nodes: [{stage, node}]}] in order.
export function sections(dag) {
  const nodes = dag.nodes || [];
  const names = sectionNames(nodes.map((n) => n.name));
  const out = [];
  nodes.forEach((node, i) => {
    const last = out[out.length - 1];
    const item = { stage: i + 1, node };
    if (last && last.name === names[i]) last.nodes.push(item);
    else out.push({ name: names[i], nodes: [item] });
  });
  for (const section of out) section.state = sectionState(section.nodes.map((x) => x.node.state));
  return out;
}

export function pauseOf(dag) {
  return (dag.additional_data && dag.additional_data.pause) || null;
}

export function isFinished(dag) {
  return dag.state === "SUCCEED" || dag.state === "FAILED";
}

// What each operator does to this DAG now, for those that apply to its state.
export function operators(dag) {
  const current = (dag.nodes || [])[dag.stage - 1];
  const step = current ? `stage ${dag.stage}: ${current.name}` : `stage ${dag.stage}`;
  const pause = pauseOf(dag);
  const out = [];
  if (dag.state === "FAILED") {
    out.push({ op: "RETRY", what: `Run the failed step (${step}) again, then go on with the next ones.` });
    out.push({ op: "ROLLBACK", what: "Undo the steps done so far, last first, back to the start of the task." });
    out.push({ op: "PASS", what: "End the task as passed: the failed step and every step after it never run.",
               danger: true });
  } else if (dag.state !== "SUCCEED") {
    if (pause) {
      out.push({ op: "RESUME", what: pause.gate
        ? `Approve the gate (${pause.gate}) and go on with the next steps.`
        : "Go on: the next step starts." });
    } else {
      out.push({ op: "PAUSE", what: `Let the running step (${step}) finish and start no next one until RESUME.` });
    }
    out.push({ op: "CANCEL", what: "Stop the task: the running step is cancelled and no next one starts.",
               danger: true });
  }
  return out;
}

// The node that failed last, or null.
export function failedNode(dag) {
  const failed = (dag.nodes || []).map((node, i) => ({ node, stage: i + 1 })).filter((x) => x.node.state === "FAILED");
  return failed.length ? failed[failed.length - 1] : null;
}

export function outcome(dag) {
  if (dag.state === "SUCCEED" && dag.operator === "ROLLBACK") return "rolled back";
  if (dag.state === "SUCCEED" && dag.operator === "PASS") return "passed";
  if (isFinished(dag) && dag.operator === "CANCEL") return "cancelled";
  return dag.state;
}
