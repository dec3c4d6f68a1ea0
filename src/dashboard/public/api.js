// How the dashboard talks to flip serve: JSON reads and actions with the control token, and the
// event stream. The token is asked for once (when the server answers 401) and kept in this tab's
// session storage; it travels only in the Authorization header, never in a URL or a cookie.

const TOKEN_KEY = "flip.token";
/** The audit log's "who" for actions taken from this page. */
const ACTOR = "dashboard";

export class ApiError extends Error {
  constructor(status, body) {
    const error = body && typeof body === "object" && body.error ? body.error : undefined;
    super(error?.message ?? `flip serve answered HTTP ${status}`);
    this.status = status;
    this.code = error?.code;
    this.hint = error?.hint;
  }
}

/**
 * Set by the page: shows the token dialog and resolves with the token, or undefined if the person
 * cancels. Asked with { refused, message, read }: `read` when only reading needs it (a listener
 * beyond loopback), so a page that was told "no" once need not ask again every second.
 */
let tokenPrompt = async () => undefined;

export function onTokenNeeded(prompt) {
  tokenPrompt = prompt;
}

export function currentToken() {
  try {
    return sessionStorage.getItem(TOKEN_KEY) ?? undefined;
  } catch {
    return undefined; // storage disabled: the token is asked for each time
  }
}

export function rememberToken(token) {
  try {
    if (token) sessionStorage.setItem(TOKEN_KEY, token);
    else sessionStorage.removeItem(TOKEN_KEY);
  } catch {
    // storage disabled
  }
}

export function authHeaders(extra = {}) {
  const headers = { ...extra };
  const token = currentToken();
  if (token) headers.authorization = `Bearer ${token}`;
  return headers;
}

/**
 * One request; on 401 asks for the token and tries again (a wrong token asks again, saying so).
 * Resolves with the parsed JSON body; rejects with ApiError (or a TypeError when the server is down).
 */
async function call(method, path, body) {
  let refused = false;
  for (;;) {
    const headers = authHeaders({ accept: "application/json" });
    const init = { method, headers, cache: "no-store" };
    if (body !== undefined) {
      headers["content-type"] = "application/json";
      headers["x-flip-actor"] = ACTOR;
      init.body = JSON.stringify(body);
    }
    const response = await fetch(path, init);
    const text = await response.text();
    const parsed = text ? safeJson(text) : undefined;
    if (response.status === 401) {
      const hadToken = currentToken() !== undefined;
      if (hadToken) rememberToken(undefined);
      const token = await tokenPrompt({ refused: refused || hadToken, message: parsed?.error?.message, read: method === "GET" });
      if (!token) throw new ApiError(401, parsed);
      rememberToken(token);
      refused = true;
      continue;
    }
    if (!response.ok) throw new ApiError(response.status, parsed);
    return parsed;
  }
}

export const getJson = (path) => call("GET", path);
export const postJson = (path, body = {}) => call("POST", path, body);

function safeJson(text) {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Follows GET /api/events for as long as the page is open, reconnecting with backoff when the
 * server goes away (a restart of flip serve). EventSource cannot send an Authorization header,
 * so this reads the stream with fetch and parses server-sent events itself.
 */
export function followEvents({ onEvent, onOpen, onDown }) {
  let backoffMs = 500;
  void (async () => {
    for (;;) {
      try {
        const response = await fetch("/api/events", { headers: authHeaders({ accept: "text/event-stream" }), cache: "no-store" });
        if (response.status === 401) {
          // Reads need the token on a listener that is not loopback: ask once, then try again.
          const token = await tokenPrompt({ refused: currentToken() !== undefined, message: "Reading this server's events needs the token.", read: true });
          if (token) rememberToken(token);
          else while (currentToken() === undefined) await sleep(1_000); // until the person gives one elsewhere on the page
          continue;
        }
        if (!response.ok || !response.body) throw new Error(`HTTP ${response.status}`);
        backoffMs = 500;
        onOpen();
        await readEvents(response.body, onEvent);
      } catch {
        // the server is down or went away mid-stream: reconnect below
      }
      onDown();
      await sleep(backoffMs);
      backoffMs = Math.min(backoffMs * 2, 2_500); // a restarted flip serve is back within seconds
    }
  })();
}

async function readEvents(body, onEvent) {
  const reader = body.pipeThrough(new TextDecoderStream()).getReader();
  const parser = new SseParser();
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    for (const message of parser.feed(value)) {
      const data = safeJson(message.data);
      if (data) onEvent(message.event, data);
    }
  }
}

/** The SSE wire format: `event:` and `data:` lines, a blank line ends a message, `:` lines are comments. */
export class SseParser {
  buffer = "";
  eventType = "";
  dataLines = [];

  feed(chunk) {
    this.buffer += chunk;
    const messages = [];
    // A \r at the very end may be the first half of \r\n: keep it for the next chunk.
    const carry = this.buffer.endsWith("\r") ? "\r" : "";
    const lines = (carry ? this.buffer.slice(0, -1) : this.buffer).split(/\r\n|\r|\n/);
    this.buffer = (lines.pop() ?? "") + carry; // the last piece has no line end yet
    for (const line of lines) {
      if (line === "") {
        if (this.dataLines.length > 0) messages.push({ event: this.eventType || "message", data: this.dataLines.join("\n") });
        this.eventType = "";
        this.dataLines = [];
      } else if (!line.startsWith(":")) {
        const colon = line.indexOf(":");
        const field = colon === -1 ? line : line.slice(0, colon);
        let value = colon === -1 ? "" : line.slice(colon + 1);
        if (value.startsWith(" ")) value = value.slice(1);
        if (field === "event") this.eventType = value;
        else if (field === "data") this.dataLines.push(value);
      }
    }
    return messages;
  }
}
