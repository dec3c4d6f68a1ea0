// Request rates as people write them in flip.yaml: "500/s", "30000/m", "2.5/s". A bare number has
// no unit and is refused, as durations are: "500" could mean per second or per minute.

const RATE = /^\s*(\d+(?:\.\d+)?)\s*\/\s*(s|sec|second|m|min|minute)\s*$/;

/** Requests per second, or undefined when the text is not a rate. */
export function parseRequestRate(text: string): number | undefined {
  const match = RATE.exec(text);
  if (!match) return undefined;
  const value = Number(match[1]);
  return (match[2] as string).startsWith("s") ? value : value / 60;
}

/** "812.3/s" */
export function formatRequestRate(perSecond: number): string {
  return `${perSecond >= 100 ? Math.round(perSecond) : perSecond.toFixed(1)}/s`;
}
