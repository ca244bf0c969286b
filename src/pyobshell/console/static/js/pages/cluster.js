// Cluster: zones, servers (status, build, in service, leaders), agents (state, maintainer) and
// the unfinished tasks; refreshed every few seconds while shown.

import { errorBox, formatTime, h, num, replace, stateTag, table } from "../view.js";

const REFRESH_MS = 3000;
const AGENT_STATES = ["UNKNOWN", "STARTING", "RUNNING", "STOPPING", "STOPPED"];
const OB_STATES = ["not running", "running", "restricted", "available"];

function yesNo(value) {
  if (value === null || value === undefined) return "–";
  return stateTag(value ? "yes" : "no");
}

function view(info, statuses, unfinished) {
  const maintainer = info.maintainer ? `${info.maintainer.ip}:${info.maintainer.port}` : "";
  const c = info.obcluster_info;
  const servers = Object.entries(c.topology).flatMap(([zone, list]) => list.map((s) => [
    zone, `${s.svr_ip}:${s.svr_port}`, stateTag(s.status), h("span", { class: "build" }, s.build_version),
    yesNo(s.in_service), num(s.leader_count), s.with_rootserver === "YES" ? "yes" : "",
  ]));
  const agents = Object.entries(statuses).sort().map(([address, s]) => [
    address, s.agent.zone || "", s.agent.identity || "", stateTag(AGENT_STATES[s.state] || s.state),
    OB_STATES[s.obState] ?? s.obState, s.underMaintenance ? "yes" : "", address === maintainer ? "maintainer" : "",
  ]);
  const tasks = unfinished.map((d) => [
    h("a", { href: `#/task/${encodeURIComponent(d.id)}` }, d.id), d.name, stateTag(d.state),
    `${d.stage}/${d.max_stage}`, formatTime(d.start_time),
  ]);
  return [
    h("dl", { class: "kv" },
      h("dt", {}, "cluster"), h("dd", {}, `${c.name || "(unnamed)"} (id ${c.id})`),
      h("dt", {}, "lowest build"), h("dd", { id: "cluster-version" }, c.version || "–"),
      h("dt", {}, "maintainer"), h("dd", { id: "maintainer" }, maintainer || "none now")),
    h("h2", {}, "Zones"),
    table(["zone", "status"], info.zones.map((z) => [z.zone, stateTag(z.status)]), { id: "zones" }),
    h("h2", {}, "Servers"),
    table(["zone", "server", "status", "build", "in service", ["leaders", "num"], "root service"], servers,
          { id: "servers" }),
    h("h2", {}, "Agents"),
    table(["agent", "zone", "identity", "state", "observer", "under maintenance", "role"], agents, { id: "agents" }),
    h("h2", {}, "Unfinished tasks"),
    table(["id", "name", "state", "stage", "started"], tasks, { id: "unfinished" }),
  ];
}

export async function render(ctx, main) {
  const body = h("div", { id: "cluster" });
  const note = h("p", { class: "muted", id: "cluster-updated" });
  replace(main, h("h1", {}, "Cluster"), note, body);
  let timer = null;
  let stopped = false;
  const load = async () => {
    try {
      const [info, statuses, unfinished] = await Promise.all([
        ctx.agent.call("GET", "/api/v1/ob/info"),
        ctx.agent.call("GET", "/api/v1/agents/status"),
        ctx.agent.call("GET", "/api/v1/task/dag/unfinish?show_details=false"),
      ]);
      if (stopped) return;
      replace(body, view(info, statuses, unfinished));
      note.textContent = `Updated ${new Date().toLocaleTimeString()}; refreshed every ${REFRESH_MS / 1000} s.`;
    } catch (error) {
      if (stopped || !ctx.agent.signedIn) return;
      replace(body, errorBox(error));
    }
    if (!stopped) timer = setTimeout(load, REFRESH_MS);
  };
  await load();
  return () => {
    stopped = true;
    clearTimeout(timer);
  };
}
