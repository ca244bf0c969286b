// The agent's API, as obshell's web UI calls it: every request carries an RSA-encrypted header
// (crypto.js) and, with a body, an AES-encrypted body. Sign-in sends the root@sys password once,
// to POST /api/v1/login; every later request carries only the session id it answered. The
// password is never kept; the session id lives in this tab's sessionStorage.

import { decryptReply, encryptRequest, parsePublicKey } from "./crypto.js";

const SESSION_KEY = "pyobshell.session";
export const SESSION_ERRORS = new Set([
  "Security.Authentication.SessionInvalid",
  "Security.Authentication.SessionExpired",
]);
const DECRYPT_FAILED = "Security.Authentication.Header.DecryptFailed";

export class ApiError extends Error {
  constructor({ status = 0, errCode = "", message = "", subErrors = [], traceId = "", code = 0 }) {
    super(message || `HTTP ${status}`);
    Object.assign(this, { status, errCode, subErrors: subErrors || [], traceId, code });
  }

  get sessionEnded() {
    return SESSION_ERRORS.has(this.errCode);
  }
}

function envelopeError(status, envelope, text) {
  if (envelope && envelope.error) {
    const e = envelope.error;
    return new ApiError({ status, errCode: e.errCode, message: e.message, subErrors: e.subErrors,
                          traceId: envelope.traceId, code: e.code });
  }
  const shown = (text || "").replace(/\s+/g, " ").trim().slice(0, 200);
  return new ApiError({ status, errCode: "Console.BadAnswer",
                        message: `The agent answered HTTP ${status} without obshell's envelope${shown ? `: ${shown}` : ""}` });
}

// The data of an answer, or an ApiError built from its envelope.
function readAnswer(status, text) {
  let envelope = null;
  try {
    envelope = text ? JSON.parse(text) : null;
  } catch {
    envelope = null;
  }
  if (status >= 200 && status < 300 && envelope && envelope.successful !== false) {
    const data = envelope.data;
    return data && typeof data === "object" && Array.isArray(data.contents) ? data.contents : data;
  }
  throw envelopeError(status, envelope, text);
}

export class Agent {
  constructor(base = "") {
    this.base = base;
    this.key = null;
    this.offset = 0; // the agent's clock minus ours, seconds (Ts is checked against the agent's)
    this.sessionId = sessionStorage.getItem(SESSION_KEY) || "";
    this.onSessionEnded = () => {};
    this.identity = null;
  }

  get signedIn() {
    return !!this.sessionId;
  }

  now() {
    return Date.now() / 1000 + this.offset;
  }

  async plain(method, uri) {
    let response;
    try {
      response = await fetch(this.base + uri, { method, headers: { Accept: "application/json" } });
    } catch (error) {
      throw new ApiError({ errCode: "Console.Unreachable", message: `The agent cannot be reached: ${error.message}` });
    }
    return readAnswer(response.status, await response.text());
  }

  async publicKey(refresh = false) {
    if (!this.key || refresh) {
      const [secret, time] = await Promise.all([this.plain("GET", "/api/v1/secret"), this.plain("GET", "/api/v1/time")]);
      this.key = parsePublicKey(secret.public_key);
      this.identity = `${secret.ip}:${secret.port}`;
      const agentMs = Date.parse(String(time).replace(/(\.\d{3})\d+/, "$1"));
      if (!Number.isNaN(agentMs)) this.offset = (agentMs - Date.now()) / 1000;
    }
    return this.key;
  }

  async send(method, uri, { body = null, password = "", withKeys = false, sessionId = this.sessionId } = {}) {
    for (let attempt = 0; ; attempt++) {
      const key = await this.publicKey(attempt > 0);
      const made = await encryptRequest(key, { uri, password, sessionId: password ? "" : sessionId, body,
                                               now: this.now(), withKeys });
      const headers = { "X-OCS-Header": made.header, Accept: "application/json" };
      if (made.body !== null) headers["Content-Type"] = "application/json";
      let response;
      try {
        response = await fetch(this.base + uri, { method, headers, body: made.body ?? undefined });
      } catch (error) {
        throw new ApiError({ errCode: "Console.Unreachable", message: `The agent cannot be reached: ${error.message}` });
      }
      const text = await response.text();
      try {
        return { data: readAnswer(response.status, text), made };
      } catch (error) {
        // A key that changed (agent restarted with a new one): fetch it again, once.
        if (error.errCode === DECRYPT_FAILED && attempt === 0) continue;
        throw error;
      }
    }
  }

  // An authenticated call with the session; an ended session signs the page out.
  async call(method, uri, body = null) {
    const sessionId = this.sessionId;
    if (!sessionId) throw this.ended(new ApiError({ errCode: "Security.Authentication.SessionInvalid",
                                                    message: "Not signed in" }), sessionId);
    try {
      return (await this.send(method, uri, { body, sessionId })).data;
    } catch (error) {
      if (error.sessionEnded) throw this.ended(error, sessionId);
      throw error;
    }
  }

  // Only the session a call was made with ends: a page polls several calls at once, and the
  // later refusals of an ended session must neither show the sign-in form again nor forget the
  // session signed in since.
  ended(error, sessionId) {
    if (sessionId !== this.sessionId) return error;
    this.forget();
    this.onSessionEnded(error);
    return error;
  }

  forget() {
    this.sessionId = "";
    sessionStorage.removeItem(SESSION_KEY);
  }

  async signIn(password) {
    const { data, made } = await this.send("POST", "/api/v1/login", { password, withKeys: true });
    this.sessionId = await decryptReply(made.key, made.iv, data);
    sessionStorage.setItem(SESSION_KEY, this.sessionId);
  }

  async signOut() {
    const sessionId = this.sessionId;
    try {
      if (sessionId) await this.send("POST", "/api/v1/logout", { body: { session_id: sessionId } });
    } finally {
      this.forget();
    }
  }

  // POST /api/v1/package: plain multipart (field "file", as the web UI sends its form data), the
  // header carrying the session and no Keys: the body is not encrypted. Progress through
  // XMLHttpRequest's upload events: onProgress(loaded, total).
  async upload(file, onProgress) {
    const uri = "/api/v1/package";
    const sessionId = this.sessionId;
    const key = await this.publicKey();
    const made = await encryptRequest(key, { uri, sessionId, now: this.now() });
    const form = new FormData();
    form.append("file", file, file.name);
    const answer = await new Promise((resolve, reject) => {
      const xhr = new XMLHttpRequest();
      xhr.open("POST", this.base + uri);
      xhr.setRequestHeader("X-OCS-Header", made.header);
      xhr.setRequestHeader("Accept", "application/json");
      xhr.upload.addEventListener("progress", (event) => {
        if (event.lengthComputable) onProgress(event.loaded, event.total);
      });
      xhr.addEventListener("load", () => resolve({ status: xhr.status, text: xhr.responseText }));
      xhr.addEventListener("error", () => reject(new ApiError({ errCode: "Console.Unreachable",
                                                                message: "The upload was cut off (network error)" })));
      xhr.send(form);
    });
    try {
      return readAnswer(answer.status, answer.text);
    } catch (error) {
      if (error.sessionEnded) throw this.ended(error, sessionId);
      throw error;
    }
  }
}
