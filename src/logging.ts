// The logger type every module takes. pino implements it in production; tests pass silentLogger.
import { pino } from "pino";

export type Logger = pino.Logger;

export const silentLogger: Logger = pino({ level: "silent" });

export function createLogger(options: { level?: string; pretty?: boolean } = {}): Logger {
  return pino({ level: options.level ?? process.env.FLIP_LOG_LEVEL ?? "info", base: undefined });
}
