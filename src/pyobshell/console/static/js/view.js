// Small DOM helpers shared by the pages: element builders, tables, errors, dialogs, formats.

const SVG_NS = "http://www.w3.org/2000/svg";
const ZERO_TIME = "0001-01-01T00:00:00Z";

function build(el, attrs, children) {
  for (const [name, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (name.startsWith("on") && typeof value === "function") el.addEventListener(name.slice(2), value);
    else if (name === "class") el.setAttribute("class", value);
    else el.setAttribute(name, value === true ? "" : String(value));
  }
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

export function h(tag, attrs, ...children) {
  return build(document.createElement(tag), attrs, children);
}

export function svg(tag, attrs, ...children) {
  return build(document.createElementNS(SVG_NS, tag), attrs, children);
}

export function replace(parent, ...children) {
  parent.replaceChildren();
  build(parent, {}, children);
  return parent;
}

export function stateTag(state) {
  const text = String(state || "");
  return h("span", { class: `state state-${text.replace(/[^A-Za-z]/g, "")}` }, text || "?");
}

export function table(headers, rows, attrs = {}) {
  const head = h("tr", {}, headers.map((name) => {
    const [label, cls] = Array.isArray(name) ? name : [name, null];
    return h("th", { scope: "col", class: cls }, label);
  }));
  const body = rows.map((cells) => h("tr", {}, cells.map((cell) => {
    if (cell && cell.cell) return h("td", { class: cell.class }, cell.cell);
    return h("td", {}, cell);
  })));
  return h("table", attrs, h("thead", {}, head), h("tbody", {}, body.length ? body
    : h("tr", {}, h("td", { colspan: headers.length, class: "muted" }, "none"))));
}

export function num(value) {
  return { cell: value === null || value === undefined ? "–" : String(value), class: "num" };
}

// An API error as the agent said it: its message, errCode (and trace id), and its sub-errors.
export function errorBox(error, title) {
  const parts = [];
  if (title) parts.push(h("strong", {}, title), " ");
  parts.push(h("span", { class: "message" }, error.message || String(error)));
  if (error.errCode) parts.push(" ", h("code", { class: "errcode" }, error.errCode));
  if (error.traceId) parts.push(h("span", { class: "muted" }, ` (trace ${error.traceId})`));
  const subs = (error.subErrors || []).map((sub) => h("li", {},
    sub.field ? `${sub.field}: ` : "", sub.message || JSON.stringify(sub),
    sub.errCode ? [" ", h("code", {}, sub.errCode)] : null));
  return h("div", { class: "error", role: "alert" }, parts, subs.length ? h("ul", { class: "sub-errors" }, subs) : null);
}

// A modal question; resolves true when the operator confirms. Esc or Cancel resolve false.
export function confirmDialog({ title, body, confirm = "Confirm", danger = false }) {
  return new Promise((resolve) => {
    const yes = h("button", { type: "button", class: danger ? "primary danger" : "primary", "data-confirm": "yes" }, confirm);
    const no = h("button", { type: "button", "data-confirm": "no" }, "Cancel");
    const dialog = h("dialog", { "aria-labelledby": "dialog-title" },
      h("h2", { id: "dialog-title" }, title), h("div", {}, body), h("div", { class: "actions" }, yes, no));
    let answered = false;
    const finish = (answer) => {
      if (answered) return;
      answered = true;
      dialog.close();
      dialog.remove();
      resolve(answer);
    };
    yes.addEventListener("click", () => finish(true));
    no.addEventListener("click", () => finish(false));
    dialog.addEventListener("close", () => finish(false));
    document.body.append(dialog);
    dialog.showModal();
    no.focus();
  });
}

export function parseTime(text) {
  if (!text || text === ZERO_TIME) return null;
  // JavaScript's Date takes milliseconds at most: cut nanoseconds down.
  const ms = Date.parse(String(text).replace(/(\.\d{3})\d+/, "$1"));
  return Number.isNaN(ms) ? null : ms;
}

export function formatTime(text) {
  const ms = parseTime(text);
  return ms === null ? "" : new Date(ms).toLocaleString();
}

export function formatSeconds(seconds) {
  if (seconds === null || seconds === undefined) return "";
  if (seconds < 60) return `${seconds.toFixed(1)}s`;
  const minutes = Math.floor(seconds / 60);
  const secs = Math.floor(seconds % 60);
  return minutes < 60 ? `${minutes}m${String(secs).padStart(2, "0")}s`
    : `${Math.floor(minutes / 60)}h${String(minutes % 60).padStart(2, "0")}m`;
}

export function elapsed(start, end, now = Date.now()) {
  const from = parseTime(start);
  if (from === null) return null;
  const to = parseTime(end) ?? now;
  return Math.max(0, (to - from) / 1000);
}

export function formatBytes(n) {
  if (!n && n !== 0) return "";
  const units = ["B", "KiB", "MiB", "GiB"];
  let value = n;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${unit ? value.toFixed(1) : value} ${units[unit]}`;
}

// Show an agent's errors next to the form's fields: `fields` maps a field name to its input;
// returns the errors no field claimed (shown above the form by the caller).
export function showFieldErrors(form, placed) {
  for (const el of form.querySelectorAll(".field-error")) el.remove();
  for (const el of form.querySelectorAll("[aria-invalid]")) el.removeAttribute("aria-invalid");
  for (const [name, messages] of Object.entries(placed)) {
    const input = form.querySelector(`[name="${name}"]`);
    if (!input) continue;
    input.setAttribute("aria-invalid", "true");
    const id = `error-${name}`;
    input.setAttribute("aria-describedby", id);
    const box = input.closest(".field") || input.parentElement;
    box.append(h("div", { class: "field-error", id, "data-field": name, role: "alert" }, messages.join("; ")));
  }
}
