// Reading HAProxy's runtime API answers (`show map`, `show stat`) and the map file on disk. Pure
// text in, data out, so every rule is unit-tested on answers captured from HAProxy 2.6.

export interface MapEntry {
  key: string;
  value: string;
}

/** `show map <map>` lists one entry per line: "0x55d0c0b0e0a0 shop shop-blue". */
export function parseShowMap(answer: string): MapEntry[] {
  const entries: MapEntry[] = [];
  for (const line of answer.split("\n")) {
    const match = /^0x[0-9a-f]+ (\S+) (.*)$/i.exec(line.trim());
    if (match) entries.push({ key: match[1] as string, value: (match[2] as string).trim() });
  }
  return entries;
}

/** HAProxy answers an unknown map with "Unknown map identifier. Please use #<id> or <file>." */
export function isUnknownMap(answer: string): boolean {
  return answer.startsWith("Unknown map identifier");
}

export interface ServerStatus {
  name: string;
  /** "UP", "UP 1/3" (going down), "DOWN", "DOWN 1/2" (going up), "MAINT", "DRAIN", "NOLB", "no check". */
  status: string;
  /** Why the last health check failed, e.g. "Layer4 connection problem" (empty when it passed). */
  checkDescription: string;
}

/**
 * The server rows of `show stat <backend> 4 -1` (CSV with a "# pxname,svname,..." header), or
 * undefined when HAProxy has no such backend ("No such proxy.").
 */
export function parseServerStats(answer: string): ServerStatus[] | undefined {
  const lines = answer.split("\n").filter((line) => line.trim() !== "");
  const header = lines[0];
  if (header === undefined || !header.startsWith("# ")) return undefined;
  const columns = header.slice(2).split(",");
  const at = (name: string) => columns.indexOf(name);
  const [name, status, description] = [at("svname"), at("status"), at("check_desc")];
  return lines
    .slice(1)
    .map((line) => line.split(","))
    .filter((cells) => cells[name] !== "FRONTEND" && cells[name] !== "BACKEND")
    .map((cells) => ({ name: cells[name] ?? "?", status: cells[status] ?? "?", checkDescription: description < 0 ? "" : (cells[description] ?? "") }));
}

export interface BackendCounters {
  /** Requests the backend handled since HAProxy started (its answers and its own 503s alike). */
  requests: number;
  /** 5xx answers, the ones HAProxy made itself (no server up, a server failing) included. */
  errors: number;
  /** Sessions open on the backend now. */
  inFlight: number;
}

/**
 * The BACKEND row of `show stat <backend> 2 -1`, or undefined when HAProxy has no such backend.
 * Requests are `req_tot`, or the sum of the status classes where an older HAProxy leaves it empty.
 */
export function parseBackendCounters(answer: string): BackendCounters | undefined {
  const lines = answer.split("\n").filter((line) => line.trim() !== "");
  const header = lines[0];
  if (header === undefined || !header.startsWith("# ")) return undefined;
  const columns = header.slice(2).split(",");
  const row = lines.slice(1).map((line) => line.split(",")).find((cells) => cells[columns.indexOf("svname")] === "BACKEND");
  if (!row) return undefined;
  const number = (name: string) => Number(row[columns.indexOf(name)] ?? "") || 0;
  const classes = ["hrsp_1xx", "hrsp_2xx", "hrsp_3xx", "hrsp_4xx", "hrsp_5xx", "hrsp_other"].reduce((sum, name) => sum + number(name), 0);
  return { requests: Math.max(number("req_tot"), classes), errors: number("hrsp_5xx"), inFlight: number("scur") };
}

/**
 * Whether HAProxy sends new requests to the server: UP (a server going down is still UP), or
 * "no check" (not health-checked, so always used). DOWN, MAINT, DRAIN (weight 0) and NOLB are not.
 */
export function isUsable(server: ServerStatus): boolean {
  return server.status.startsWith("UP") || server.status === "no check";
}

/** "blue1 DOWN (Layer4 connection problem), blue2 MAINT". */
export function describeServers(servers: readonly ServerStatus[]): string {
  if (servers.length === 0) return "no server";
  return servers.map((server) => `${server.name} ${server.status}${server.checkDescription && !isUsable(server) ? ` (${server.checkDescription})` : ""}`).join(", ");
}

/**
 * The map file's text with `key value` in it: the key's line replaced (comments, blank lines and
 * other keys kept as they are), or appended when it has none.
 */
export function withMapEntry(text: string | undefined, key: string, value: string): string {
  const lines = (text ?? "").split("\n");
  if (lines.at(-1) === "") lines.pop();
  const index = lines.findIndex((line) => !line.trimStart().startsWith("#") && line.trim().split(/\s+/)[0] === key);
  if (index >= 0) lines[index] = `${key} ${value}`;
  else lines.push(`${key} ${value}`);
  return `${lines.join("\n")}\n`;
}
