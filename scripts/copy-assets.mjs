// Part of `npm run build`: puts the dashboard's plain files next to the compiled server module
// (dist/src/dashboard/public/), with the chart library's built files from node_modules in vendor/.
// The package ships dist/, so `flip serve` needs no build step and no node_modules lookup at run time.
import { copyFileSync, cpSync, mkdirSync, rmSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const repoRoot = join(dirname(fileURLToPath(import.meta.url)), "..");
const source = join(repoRoot, "src/dashboard/public");
const target = join(repoRoot, "dist/src/dashboard/public");

rmSync(target, { recursive: true, force: true }); // files removed from src/ must not linger in dist/
cpSync(source, target, { recursive: true });

const uplotDir = dirname(createRequire(import.meta.url).resolve("uplot/package.json"));
mkdirSync(join(target, "vendor"), { recursive: true });
for (const [from, to] of [
  ["dist/uPlot.iife.min.js", "uPlot.iife.min.js"],
  ["dist/uPlot.min.css", "uPlot.min.css"],
  ["LICENSE", "uPlot.LICENSE.txt"],
]) {
  copyFileSync(join(uplotDir, from), join(target, "vendor", to));
}
