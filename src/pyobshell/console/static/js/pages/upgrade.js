// Upgrade: the request (target from the stored packages, mode, directory, gates), the agent's
// plan for it (route hop by hop, packages present or missing, every stage, gates, the point of
// no return), then start. Every check is the agent's: its errors are shown next to the field
// they are about (or above the form), and nothing starts.

import { errorBox, h, replace, showFieldErrors, stateTag, table } from "../view.js";

const PLAN = "/api/v1/ob/upgrade/plan";
const START = "/api/v1/ob/upgrade";

// Which form field an agent error is about, by its errCode (validation errors name their field).
const FIELD_OF_CODE = {
  "OB.Upgrade.Gate.UnknownZone": "pause_after_zones",
  "OB.Upgrade.Gate.NeedsRolling": "mode",
  "OB.Upgrade.UnableToRollingUpgrade": "mode",
  "OB.Package.NotExist": "version",
  "OB.Upgrade.Path.NotExist": "version",
  "OB.Upgrade.ToLowerVersion": "version",
  "OB.Upgrade.ToDeprecatedVersion": "version",
  "Agent.OBVersionNotSupported": "version",
  "Common.InvalidPath": "upgradeDir",
};
const FORM_FIELDS = ["version", "release", "mode", "upgradeDir", "pause_after_zones", "soak_s",
                     "hold_before_finalize", "freeze_server", "slo.max_error_rate", "slo.max_p99_ms", "slo.window_s"];

function field(label, input, hint) {
  return h("div", { class: "field" }, h("label", { for: input.id }, label), input,
    hint ? h("div", { class: "hint" }, hint) : null);
}

function targets(packages) {
  const seen = new Map();
  for (const p of packages) {
    if (p.name !== "oceanbase-ce" && p.name !== "oceanbase") continue;
    seen.set(`${p.version} ${p.release_distribution}`, { version: p.version, release: p.release_distribution });
  }
  return [...seen.values()].sort((a, b) => b.version.localeCompare(a.version, undefined, { numeric: true }));
}

function numberOrNull(text, scale = 1) {
  const value = String(text).trim();
  return value === "" ? null : Number(value) * scale;
}

// The request body, exactly as typed: the agent decides what is wrong with it.
function bodyOf(form) {
  const v = (name) => form.elements[name].value;
  const body = {
    version: v("version").trim(), release: v("release").trim(), mode: v("mode"), upgradeDir: v("upgradeDir").trim(),
    freeze_server: form.elements.freeze_server.checked,
    pause_after_zones: v("pause_after_zones").split(/[\s,]+/).filter(Boolean),
    hold_before_finalize: form.elements.hold_before_finalize.checked,
  };
  const soak = numberOrNull(v("soak_s"));
  if (soak !== null) body.soak_s = soak;
  const errorRate = numberOrNull(v("slo.max_error_rate"), 0.01); // typed in percent
  const p99 = numberOrNull(v("slo.max_p99_ms"));
  const windowS = numberOrNull(v("slo.window_s"));
  if (errorRate !== null || p99 !== null || windowS !== null) {
    body.slo = {};
    if (errorRate !== null) body.slo.max_error_rate = errorRate;
    if (p99 !== null) body.slo.max_p99_ms = p99;
    if (windowS !== null) body.slo.window_s = windowS;
  }
  return body;
}

// Place an agent error: {field: [messages]} and what is left for the form's top.
function placeError(error) {
  const placed = {};
  const rest = [];
  const put = (name, message) => (placed[name] = placed[name] || []).push(message);
  const fieldOf = (path) => {
    if (path === "slo") return "slo.max_error_rate"; // the SLO as a whole (e.g. no bound given)
    const parts = String(path || "").split(".");
    const two = parts.slice(0, 2).join(".");
    return FORM_FIELDS.includes(two) ? two : FORM_FIELDS.includes(parts[0]) ? parts[0] : null;
  };
  const subs = error.subErrors || [];
  for (const sub of subs) {
    const name = fieldOf(sub.field) || FIELD_OF_CODE[sub.errCode];
    if (name) put(name, `${sub.message}${sub.errCode ? ` (${sub.errCode})` : ""}`);
    else rest.push(sub);
  }
  if (!subs.length && FIELD_OF_CODE[error.errCode]) put(FIELD_OF_CODE[error.errCode], `${error.message} (${error.errCode})`);
  return { placed, rest };
}

function planView(plan) {
  const hops = plan.route.map((hop) => h("li", {},
    `${hop.version}-${hop.release} (${hop.role})`,
    h("ul", {}, hop.packages.map((p) => h("li", { "data-package": p.file_name },
      p.file_name, " ", stateTag(p.present ? "present" : "missing"), p.pkg_id ? ` package ${p.pkg_id}` : "")))));
  const stages = plan.stages.map((s) => [
    { cell: String(s.index), class: "num" },
    s.point_of_no_return ? h("span", {}, s.name, " ", h("strong", { class: "pnr" }, "point of no return")) : s.name,
    s.zone || "", s.hop ?? "", s.parallel ? `${s.agents.length} agents` : "maintainer",
  ]);
  const gates = [];
  if (plan.pause_after_zones.length) gates.push(`wait for RESUME after ${plan.pause_after_zones.join(", ")}`);
  if (plan.soak_s) gates.push(`soak ${plan.soak_s} s after every zone`);
  if (plan.hold_before_finalize) gates.push("wait for RESUME before the point of no return");
  if (plan.slo) {
    const bounds = [];
    if (plan.slo.max_error_rate !== null && plan.slo.max_error_rate !== undefined) {
      bounds.push(`errors ≤ ${(plan.slo.max_error_rate * 100).toFixed(2)} %`);
    }
    if (plan.slo.max_p99_ms) bounds.push(`p99 ≤ ${plan.slo.max_p99_ms} ms`);
    gates.push(`pause on an SLO breach (${bounds.join(", ")} over ${plan.slo.window_s} s)`);
  }
  const pnr = plan.stages.find((s) => s.point_of_no_return);
  return h("section", { id: "plan", "aria-labelledby": "plan-title" },
    h("h2", { id: "plan-title" }, `Plan: ${plan.name}`),
    h("dl", { class: "kv" },
      h("dt", {}, "from"), h("dd", {}, plan.current_version),
      h("dt", {}, "to"), h("dd", {}, `${plan.target_version}-${plan.target_release}`),
      h("dt", {}, "mode"), h("dd", {}, plan.mode),
      h("dt", {}, "directory"), h("dd", {}, plan.upgrade_dir || "(the agent's default)"),
      h("dt", {}, "stages"), h("dd", { id: "plan-stages" }, String(plan.max_stage)),
      h("dt", {}, "gates"), h("dd", { id: "plan-gates" }, gates.length ? gates.join("; ") : "none"),
      h("dt", {}, "point of no return"), h("dd", {}, pnr ? `stage ${pnr.index}: ${pnr.name}` : "–"),
      h("dt", {}, "packages"), h("dd", { id: "plan-ready" }, plan.ready ? "all present"
        : h("span", { class: "state state-FAILED" }, `missing: ${plan.missing_packages.join(", ")}`))),
    h("h3", {}, "Route"), h("ol", { id: "plan-route" }, hops),
    h("h3", {}, "Stages"),
    table([["#", "num"], "stage", "zone", "hop", "runs on"], stages, { id: "plan-stage-table" }));
}

export async function render(ctx, main) {
  const [packages, info] = await Promise.all([
    ctx.agent.call("GET", "/api/v1/upgrade/package/info"),
    ctx.agent.call("GET", "/api/v1/ob/info").catch(() => null),
  ]);
  const choices = targets(packages);
  const zones = info ? info.zones.map((z) => z.zone) : [];
  const input = (name, attrs = {}) => h("input", { type: "text", id: `f-${name.replace(".", "-")}`, name, ...attrs });
  const version = input("version", { list: "versions", autocomplete: "off" });
  const release = input("release", { list: "releases", autocomplete: "off" });
  const target = h("select", { id: "f-target", name: "target" },
    h("option", { value: "" }, choices.length ? "— choose —" : "no package uploaded yet"),
    choices.map((c, i) => h("option", { value: String(i) }, `${c.version}-${c.release}`)));
  target.addEventListener("change", () => {
    const chosen = choices[Number(target.value)];
    if (target.value !== "" && chosen) [version.value, release.value] = [chosen.version, chosen.release];
    changed();
  });
  if (choices.length) [version.value, release.value, target.value] = [choices[0].version, choices[0].release, "0"];
  const mode = h("select", { id: "f-mode", name: "mode" }, h("option", { value: "ROLLING" }, "rolling (zone by zone)"),
    h("option", { value: "STOPSERVICE" }, "stop service (every observer at once)"));
  const check = (name) => h("input", { type: "checkbox", id: `f-${name}`, name });
  const status = h("div", { id: "upgrade-status" });
  const planBox = h("div", { id: "plan-box" });
  const planButton = h("button", { type: "submit", class: "primary", id: "make-plan" }, "Plan");
  const startButton = h("button", { type: "button", class: "primary", id: "start-upgrade", hidden: true }, "Start upgrade");
  const form = h("form", { id: "upgrade-form", novalidate: true },
    h("datalist", { id: "versions" }, [...new Set(choices.map((c) => c.version))].map((v) => h("option", { value: v }))),
    h("datalist", { id: "releases" }, [...new Set(choices.map((c) => c.release))].map((r) => h("option", { value: r }))),
    h("datalist", { id: "zone-list" }, zones.map((z) => h("option", { value: z }))),
    h("fieldset", {}, h("legend", {}, "Target"),
      field("from the packages", target, "fills version and release"),
      field("version", version, "four numbers, e.g. 4.2.1.1"),
      field("release", release, "BUILD.DISTRIBUTION, e.g. 101000062023110109.el7"),
      field("mode", mode),
      field("upgrade directory", input("upgradeDir"), "absolute path on every host; empty: the agent's default"),
      field("freeze before stop", check("freeze_server"), "a minor freeze before each observer is stopped")),
    h("fieldset", {}, h("legend", {}, "Gates"),
      field("pause after zones", input("pause_after_zones", { list: "zone-list" }),
            `zones after whose restart the task waits for RESUME (a canary), e.g. ${zones[0] || "zone1"}`),
      field("soak (s)", h("input", { type: "number", id: "f-soak_s", name: "soak_s", min: 0, step: 1 }),
            "after every zone, wait this long while the SQL probe watches"),
      field("hold before finalize", check("hold_before_finalize"),
            "wait for RESUME before the point of no return (the post script)"),
      field("SLO: max errors (%)", input("slo.max_error_rate", { inputmode: "decimal" }),
            "pause when more of the probe's statements fail, e.g. 1"),
      field("SLO: max p99 (ms)", input("slo.max_p99_ms", { inputmode: "decimal" })),
      field("SLO: window (s)", input("slo.window_s", { inputmode: "decimal" }), "default 30")),
    h("div", { class: "actions" }, planButton, startButton));

  let planned = null; // the body the shown plan is for
  function changed() {
    if (planned === null) return;
    planned = null;
    startButton.hidden = true;
    planBox.classList.add("stale");
    replace(status, h("p", { class: "notice" }, "The request changed: plan it again before starting."));
  }
  form.addEventListener("input", (event) => {
    if (event.target !== target) changed();
  });

  function refused(error, title) {
    const { placed, rest } = placeError(error);
    showFieldErrors(form, placed);
    const shown = Object.keys(placed).length ? { ...error, subErrors: rest } : error;
    replace(status, errorBox(shown, title));
    const first = form.querySelector("[aria-invalid=true]");
    if (first) first.focus();
  }

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const body = bodyOf(form);
    planButton.disabled = true;
    startButton.hidden = true;
    showFieldErrors(form, {});
    replace(status, h("p", { class: "muted" }, "Planning…"));
    try {
      const plan = await ctx.agent.call("POST", PLAN, body);
      planned = body;
      planBox.classList.remove("stale");
      replace(planBox, planView(plan));
      replace(status, plan.ready ? h("p", {}, "Nothing has run yet. Check the plan, then start.")
        : errorBox({ message: `Packages are missing: ${plan.missing_packages.join(", ")}. Upload them first.` }));
      startButton.hidden = !plan.ready;
    } catch (error) {
      planned = null;
      planBox.replaceChildren();
      refused(error, "No plan:");
    } finally {
      planButton.disabled = false;
    }
  });

  startButton.addEventListener("click", async () => {
    if (planned === null) return;
    startButton.disabled = true;
    replace(status, h("p", { class: "muted" }, "Running the pre-checks and starting…"));
    try {
      const dag = await ctx.agent.call("POST", START, planned);
      ctx.go(`#/task/${encodeURIComponent(dag.id)}`);
      ctx.flash(`Started ${dag.name} (task ${dag.id}).`);
    } catch (error) {
      refused(error, "Not started:");
    } finally {
      startButton.disabled = false;
    }
  });

  replace(main, h("h1", {}, "Upgrade"), form, status, planBox);
}
