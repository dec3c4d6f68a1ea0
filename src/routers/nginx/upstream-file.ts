// Pure decisions about the file the nginx router owns: its text for a slot (the user's template
// below a marker comment), which slot a file Flip wrote points at, and which slot a probe's answer
// names. No I/O here, so every rule is unit-tested on plain strings.
import { isSlot, type Endpoint, type Slot } from "../../core/slots.js";
import { renderTemplate } from "../../core/template.js";

/** The marker line live() reads back; the template never has to mention the slot. */
const MARKER = /^# flip-live-slot: (\S+)[ \t]*$/m;

export interface UpstreamFileInput {
  app: string;
  upstream: string;
  template: string;
  slot: Slot;
  /** What follows `server ` for each of the slot's servers. */
  servers: readonly string[];
}

/** `host:port` of a replica, with IPv6 addresses in brackets as nginx wants them. */
export function serverOfEndpoint(endpoint: Endpoint): string {
  return endpoint.host.includes(":") ? `[${endpoint.host}]:${endpoint.port}` : `${endpoint.host}:${endpoint.port}`;
}

/**
 * `{servers}` becomes one `server …;` line per server, each indented like the placeholder's own
 * line; `{slot}`, `{upstream}` and `{app}` become their values. Other placeholders stay as written.
 */
export function renderUpstreamFile(input: UpstreamFileInput): string {
  const withServers = input.template.replace(/^([ \t]*)\{servers\}/gm, (_whole, indent: string) =>
    input.servers.map((server) => `${indent}server ${server};`).join("\n"),
  );
  // Placeholders left inside a line (`{servers}` not at its start) still get one line each.
  const inline = withServers.replaceAll("{servers}", input.servers.map((server) => `server ${server};`).join(" "));
  const body = renderTemplate(inline, { slot: input.slot, upstream: input.upstream, app: input.app });
  return [
    `# Written by Flip for the app "${input.app}": every switch replaces this file, so change router.template in flip.yaml instead.`,
    `# flip-live-slot: ${input.slot}`,
    body.endsWith("\n") ? body : `${body}\n`,
  ].join("\n");
}

/** The slot a file Flip wrote points at; undefined for no file, or one Flip did not write. */
export function slotOfFile(text: string | undefined): Slot | undefined {
  if (text === undefined) return undefined;
  const named = MARKER.exec(text)?.[1];
  return isSlot(named) ? named : undefined;
}



/** The file's upstream part on one line, for logs and `flip deploy --dry-run`. */
export function summarizeUpstreamFile(text: string): string {
  return text
    .split("\n")
    .filter((line) => line.trim() !== "" && !line.trimStart().startsWith("#"))
    .map((line) => line.trim())
    .join(" ");
}
