// One log file per replica, <logDir>/<slot>-<n>.log, appended to across restarts. The child
// writes to it directly (its own file descriptor), so output keeps flowing after the controller
// dies and an adopted replica keeps logging to the same place.
import { closeSync, mkdirSync, openSync, readSync, fstatSync, writeSync } from "node:fs";
import path from "node:path";

export function replicaLogPath(logDir: string, slot: string, replica: number): string {
  return path.join(logDir, `${slot}-${replica}.log`);
}

/** Opens the log for appending (creating its folder) and writes a line saying who starts now. */
export function openReplicaLog(logPath: string, banner: string): number {
  mkdirSync(path.dirname(logPath), { recursive: true });
  const fd = openSync(logPath, "a");
  writeSync(fd, `--- flip: ${banner}\n`);
  return fd;
}

export function closeQuietly(fd: number): void {
  try {
    closeSync(fd);
  } catch {
    // already closed: nothing to release
  }
}

// Enough bytes for ten lines of ordinary output without reading a large log whole.
const TAIL_BYTES = 16 * 1024;

/** The last `lineCount` lines of a file (empty when it cannot be read). */
export function readLogTail(logPath: string, lineCount = 10): string[] {
  let fd: number;
  try {
    fd = openSync(logPath, "r");
  } catch {
    return [];
  }
  try {
    const size = fstatSync(fd).size;
    const length = Math.min(size, TAIL_BYTES);
    const buffer = Buffer.alloc(length);
    readSync(fd, buffer, 0, length, size - length);
    const lines = buffer.toString("utf8").split(/\r?\n/);
    if (size > length) lines.shift(); // the first line is probably cut
    while (lines.length > 0 && lines[lines.length - 1] === "") lines.pop();
    return lines.slice(-lineCount);
  } finally {
    closeQuietly(fd);
  }
}

/** A path as the user would type it: relative to the config folder when inside it. */
export function displayPath(filePath: string, configDir: string): string {
  const relative = path.relative(configDir, filePath);
  return relative && !relative.startsWith("..") && !path.isAbsolute(relative) ? relative : filePath;
}
