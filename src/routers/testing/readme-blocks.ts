// The code blocks of one README section, by language ("yaml", "nginx", "sh"; "text" for a block
// without one), so each router's readme test can load its flip.yaml and check its server snippet.
import { readFile } from "node:fs/promises";

export async function readmeBlocks(heading: string): Promise<Record<string, string>> {
  const readme = await readFile(new URL("../../../README.md", import.meta.url), "utf8");
  const section = readme.split(`\n### ${heading}\n`)[1]?.split(/\n##+ /)[0] ?? "";
  return Object.fromEntries([...section.matchAll(/```(\w*)\n([\s\S]*?)```/g)].map((match) => [match[1] || "text", match[2] as string]));
}
