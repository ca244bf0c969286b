// Runs the console's API module (src/pyobshell/console/static/js/api.js) under Node for
// tests/console/test_console_session.py, with fetch and sessionStorage stubbed: a page's calls
// made with one session are answered only when the script says so.
//   stdin: {"module": path, "public_key": b64, "steps": [...]}, each step one of
//     {"do": "call", "name": n}                       start GET /n with the current session
//     {"do": "answer", "name": n, "status": s, "errCode": e}   answer the call named n
//     {"do": "session", "value": v}                   a sign-in put session v in place
//   stdout: {"events": [...]}: what each step observed (the call's outcome, the agent's session,
//   how many times the page was told its session ended)
import { pathToFileURL } from "node:url";

let input = "";
for await (const chunk of process.stdin) input += chunk;
const job = JSON.parse(input);

const stored = new Map();
globalThis.sessionStorage = {
  getItem: (k) => (stored.has(k) ? stored.get(k) : null),
  setItem: (k, v) => stored.set(k, String(v)),
  removeItem: (k) => stored.delete(k),
};
const pending = new Map();
const reply = (status, body) => ({ status, text: async () => JSON.stringify(body) });
globalThis.fetch = async (url) => {
  if (url === "/api/v1/secret") return reply(200, { successful: true, data: { public_key: job.public_key, ip: "10.0.0.1", port: 2886 } });
  if (url === "/api/v1/time") return reply(200, { successful: true, data: new Date().toISOString() });
  return new Promise((resolve) => pending.set(url.slice(1), resolve));
};

const { Agent } = await import(pathToFileURL(job.module).href);
const agent = new Agent("");
let endedCount = 0;
agent.onSessionEnded = () => { endedCount += 1; };
const outcomes = new Map();
const settle = () => new Promise((resolve) => setTimeout(resolve, 20));
const events = [];
for (const step of job.steps) {
  if (step.do === "session") {
    agent.sessionId = step.value;
    sessionStorage.setItem("pyobshell.session", step.value);
  } else if (step.do === "call") {
    const name = step.name;
    outcomes.set(name, agent.call("GET", `/${name}`).then(() => "ok", (e) => `refused ${e.errCode}`));
  } else if (step.do === "answer") {
    const error = { code: step.status, errCode: step.errCode, message: "session refused" };
    pending.get(step.name)(reply(step.status, step.errCode ? { successful: false, error } : { successful: true, data: {} }));
  }
  await settle();
  const outcome = step.name && step.do === "answer" ? await outcomes.get(step.name) : null;
  events.push({ outcome, session: agent.sessionId, stored: sessionStorage.getItem("pyobshell.session"), ended: endedCount });
}
process.stdout.write(JSON.stringify({ events }));
