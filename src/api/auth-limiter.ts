// Limits how often one client may present a wrong token: after `maxFailures` within `windowMs`
// its calls that need the token are refused (429) until the oldest failure leaves the window, so
// guessing the token gets at most `maxFailures` tries a minute. Right tokens never count.
// Memory stays bounded: expired entries are swept, and past `maxClients` the least recent goes.
import type { Clock } from "../core/clock.js";

export interface AuthLimiterOptions {
  clock: Clock;
  /** Wrong tokens one client may send within the window (10). */
  maxFailures?: number;
  /** 60 s. */
  windowMs?: number;
  /** How many clients are remembered at most (10 000); beyond that the least recent is forgotten. */
  maxClients?: number;
}

export class AuthFailureLimiter {
  private readonly clock: Clock;
  private readonly maxFailures: number;
  private readonly windowMs: number;
  private readonly maxClients: number;
  /** Client key → times of its recent failures, oldest first. Map order = least recently failed first. */
  private readonly failures = new Map<string, number[]>();
  private nextSweepAt = 0;

  constructor(options: AuthLimiterOptions) {
    this.clock = options.clock;
    this.maxFailures = options.maxFailures ?? 10;
    this.windowMs = options.windowMs ?? 60_000;
    this.maxClients = options.maxClients ?? 10_000;
  }

  /** How many clients are remembered now (for tests and diagnostics). */
  get trackedClients(): number {
    return this.failures.size;
  }

  /** Milliseconds until `client` may try again, or 0 when it may now. */
  blockedForMs(client: string): number {
    const now = this.clock.now();
    const times = this.recent(client, now);
    if (times.length < this.maxFailures) return 0;
    // The window holds maxFailures failures: the next try is allowed once the oldest leaves it.
    return (times[times.length - this.maxFailures] as number) + this.windowMs - now;
  }

  /** Records one wrong token; returns true when this failure used up the client's allowance. */
  recordFailure(client: string): boolean {
    const now = this.clock.now();
    this.sweep(now);
    const key = clientKey(client);
    const times = this.recent(client, now);
    times.push(now);
    // Only the last maxFailures matter for the verdict.
    if (times.length > this.maxFailures) times.splice(0, times.length - this.maxFailures);
    this.failures.delete(key);
    this.failures.set(key, times);
    while (this.failures.size > this.maxClients) {
      const oldest = this.failures.keys().next().value as string;
      this.failures.delete(oldest);
    }
    return times.length >= this.maxFailures;
  }

  private recent(client: string, now: number): number[] {
    const times = this.failures.get(clientKey(client)) ?? [];
    return times.filter((at) => at > now - this.windowMs);
  }

  /** Forgets clients whose failures have all left the window; at most once per window. */
  private sweep(now: number): void {
    if (now < this.nextSweepAt) return;
    this.nextSweepAt = now + this.windowMs;
    for (const [key, times] of this.failures) {
      if ((times.at(-1) ?? 0) <= now - this.windowMs) this.failures.delete(key);
    }
  }
}

/**
 * What counts as one client: the IPv4 address (also when written IPv4-mapped), or the /64 an IPv6
 * address is in — one host usually holds a whole /64, and would otherwise get 2^64 allowances.
 */
export function clientKey(address: string): string {
  const lower = address.toLowerCase();
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/.exec(lower);
  if (mapped) return mapped[1] as string;
  if (!lower.includes(":")) return lower;
  const groups = expandIPv6(lower);
  return groups ? `${groups.slice(0, 4).join(":")}::/64` : lower;
}

/** "2001:db8::1" → the eight groups without leading zeros; undefined when it is not IPv6. */
function expandIPv6(address: string): string[] | undefined {
  const withoutZone = address.split("%")[0] as string;
  const halves = withoutZone.split("::");
  if (halves.length > 2) return undefined;
  const head = halves[0] ? halves[0].split(":") : [];
  const tail = halves.length === 2 && halves[1] ? halves[1].split(":") : [];
  const missing = 8 - head.length - tail.length;
  if (missing < 0 || (halves.length === 1 && missing !== 0)) return undefined;
  const groups = [...head, ...Array<string>(missing).fill("0"), ...tail];
  if (!groups.every((group) => /^[0-9a-f]{1,4}$/.test(group))) return undefined;
  return groups.map((group) => group.replace(/^0+(?=.)/, ""));
}
