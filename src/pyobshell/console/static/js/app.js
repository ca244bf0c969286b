// The console: sign-in, the page router (#/cluster, #/packages, #/upgrade, #/task/ID, #/history)
// and sign-out. Each page module exports render(ctx, main, params) and may return a function
// that stops what it started (its polling) when the page is left.

import { Agent } from "./api.js";
import { errorBox, h, replace } from "./view.js";
import * as cluster from "./pages/cluster.js";
import * as packages from "./pages/packages.js";
import * as upgrade from "./pages/upgrade.js";
import * as task from "./pages/task.js";
import * as history from "./pages/history.js";

const PAGES = { cluster, packages, upgrade, task, history };
const main = document.getElementById("main");
const nav = document.getElementById("nav");
const signOutButton = document.getElementById("sign-out");
const flashBox = document.getElementById("flash");
const agent = new Agent();
let leave = null;
let signInNote = "";

function flash(text) {
  flashBox.textContent = text || "";
}

const ctx = {
  agent,
  flash,
  go(hash) {
    if (location.hash === hash) route();
    else location.hash = hash;
  },
};

agent.onSessionEnded = (error) => {
  signInNote = error.errCode === "Security.Authentication.SessionExpired"
    ? "Your session has expired; sign in again." : "Your session has ended; sign in again.";
  route();
};

function stopPage() {
  if (typeof leave === "function") leave();
  leave = null;
}

function showSignIn() {
  stopPage();
  nav.hidden = true;
  signOutButton.hidden = true;
  const password = h("input", { type: "password", id: "password", name: "password", autocomplete: "current-password",
                                required: true, autofocus: true });
  const status = h("div", { id: "signin-status" });
  const submit = h("button", { type: "submit", class: "primary" }, "Sign in");
  const form = h("form", { class: "signin", id: "signin", novalidate: true },
    h("h1", {}, "Sign in"),
    h("p", { class: "muted" }, "The cluster's root@sys password. It is sent once, encrypted with this agent's RSA key; "
      + "the console then uses a session."),
    signInNote ? h("div", { class: "notice", id: "signin-note" }, signInNote) : null,
    h("div", { class: "field" }, h("label", { for: "password" }, "root@sys password"), password),
    status,
    h("div", { class: "actions" }, submit));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    submit.disabled = true;
    replace(status, h("p", { class: "muted" }, "Signing in…"));
    try {
      await agent.signIn(password.value);
      signInNote = "";
      password.value = "";
      if (!location.hash.startsWith("#/") || location.hash === "#/sign-in") location.hash = "#/cluster";
      else route();
    } catch (error) {
      replace(status, errorBox(error, "Not signed in:"));
      password.select();
    } finally {
      submit.disabled = false;
    }
  });
  replace(main, form);
  password.focus();
}

function parseRoute() {
  const hash = location.hash.startsWith("#/") ? location.hash.slice(2) : "cluster";
  const [name, ...rest] = hash.split("/");
  return { name: PAGES[name] ? name : "cluster", params: rest.map(decodeURIComponent) };
}

async function route() {
  if (!location.hash.startsWith("#/") && location.hash !== "") return; // e.g. the skip link's #main
  if (!agent.signedIn) {
    showSignIn();
    return;
  }
  stopPage();
  const { name, params } = parseRoute();
  nav.hidden = false;
  signOutButton.hidden = false;
  for (const link of nav.querySelectorAll("a")) {
    if (link.dataset.page === name) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
  replace(main, h("p", { class: "muted" }, "Loading…"));
  try {
    const stop = await PAGES[name].render(ctx, main, params);
    leave = stop || null;
  } catch (error) {
    if (!agent.signedIn) return; // the session ended: the sign-in page is shown already
    replace(main, h("h1", {}, name[0].toUpperCase() + name.slice(1)), errorBox(error));
  }
  const heading = main.querySelector("h1");
  if (heading && !main.contains(document.activeElement)) {
    heading.setAttribute("tabindex", "-1");
    heading.focus({ preventScroll: true });
  }
}

signOutButton.addEventListener("click", async () => {
  stopPage();
  try {
    await agent.signOut();
    signInNote = "You have signed out.";
  } catch (error) {
    signInNote = `Signed out here; the agent answered: ${error.message}${error.errCode ? ` (${error.errCode})` : ""}`;
  }
  flash("");
  location.hash = "#/sign-in";
  showSignIn();
});

window.addEventListener("hashchange", () => {
  flash("");
  route();
});

agent.publicKey().then((key) => {
  document.getElementById("agent").textContent = `agent ${agent.identity} · RSA ${key.k * 8} bits`;
}).catch(() => {});
route();
