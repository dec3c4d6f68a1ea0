// Files a router owns on the machine (nginx's upstream file, HAProxy's map file): read, and replaced
// in one step. The new text goes to a temporary file in the same folder (same file system), which
// then takes the old one's name with rename(2), so nginx or HAProxy never reads half a file.
import { randomBytes } from "node:crypto";
import { chmod, readFile, rename, stat, unlink, writeFile } from "node:fs/promises";
import { basename, dirname, join } from "node:path";

/** The file's text, or undefined when there is no such file (any other failure is thrown). */
export async function readTextIfExists(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, "utf8");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw error;
  }
}

/**
 * Replaces `path` with `text` atomically, keeping the old file's permissions. The temporary name
 * starts with a dot and ends in `.tmp`, so an `include conf.d/*.conf` never picks it up.
 */
export async function writeFileAtomically(path: string, text: string): Promise<void> {
  const temporary = join(dirname(path), `.${basename(path)}.flip-${randomBytes(4).toString("hex")}.tmp`);
  try {
    await writeFile(temporary, text, { encoding: "utf8", flag: "wx" });
    const mode = await stat(path).then(
      (existing) => existing.mode & 0o7777,
      () => undefined,
    );
    if (mode !== undefined) await chmod(temporary, mode);
    await rename(temporary, path);
  } catch (error) {
    await unlink(temporary).catch(() => undefined);
    throw error;
  }
}

/** Puts back what readTextIfExists() returned earlier: the old text, or no file at all. */
export async function restoreFile(path: string, previous: string | undefined): Promise<void> {
  if (previous === undefined) {
    await unlink(path).catch((error: NodeJS.ErrnoException) => {
      if (error.code !== "ENOENT") throw error;
    });
    return;
  }
  await writeFileAtomically(path, previous);
}

/** "permission denied" for EACCES, the plain message otherwise: for errors that name the file themselves. */
export function describeFileError(error: unknown): string {
  const code = (error as NodeJS.ErrnoException).code;
  const reasons: Record<string, string> = {
    EACCES: "permission denied",
    EPERM: "operation not permitted",
    ENOENT: "no such file or folder",
    EROFS: "read-only file system",
    ENOSPC: "no space left on the device",
    EISDIR: "it is a folder",
  };
  if (code !== undefined && reasons[code] !== undefined) return reasons[code];
  return error instanceof Error ? error.message : String(error);
}
