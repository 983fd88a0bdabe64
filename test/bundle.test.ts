/**
 * The command's bundle (scripts/bundle.mjs, dist/bin/): what the quick start loads. Lazy parts must stay
 * lazy once bundled: an external a lazily imported module takes (Arrow for the pyfunc tier) would be
 * hoisted to a static import of the entry if they were not split into chunks.
 */
import { spawnSync } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { BIKES, ROOT, removeDir, tempDir } from "./helpers.js";

let dir: string;
beforeEach(() => {
  dir = tempDir();
});
afterEach(() => removeDir(dir));

/** Registers a loader hook that prints every ES module URL loaded, one `LOADED <url>` line on stderr. */
const HOOK = `data:text/javascript,${encodeURIComponent(`
import { register } from "node:module";
register("data:text/javascript," + encodeURIComponent(
  "export async function load(url, context, next) { console.error('LOADED ' + url); return next(url, context); }"
));
`)}`;

/** Runs the built command with the hook: its exit code, stdout, and the module URLs it loaded. */
function loadedBy(args: string[]) {
  const result = spawnSync(process.execPath, ["--import", HOOK, join(ROOT, "bin", "mlbatch.js"), ...args], {
    cwd: ROOT,
    encoding: "utf8",
    timeout: 60_000,
  });
  const urls = result.stderr
    .split("\n")
    .filter((line) => line.startsWith("LOADED "))
    .map((line) => line.slice("LOADED ".length));
  return { code: result.status, stdout: result.stdout, urls };
}

describe("the command's bundle", () => {
  it("given the quick start, then it loads the bundle's files and better-sqlite3, and none of the lazy packages", () => {
    const output = join(dir, "predictions.parquet");
    const { code, stdout, urls } = loadedBy([
      "run",
      join(BIKES, "confs", "inference.yaml"),
      "-e",
      `job: {outputs: {path: '${output}'}}`,
    ]);
    expect(code).toBe(0);
    expect(stdout).toContain("[Bikes] Inference Job Finished: Outputs Shape: (3476, 2)");
    const files = urls.filter((url) => url.startsWith("file:"));
    // Not one module of tsc's dist/ (the library): the command is the bundle, whole.
    const ours = files.filter((url) => !url.includes("/node_modules/"));
    expect(ours.every((url) => url.includes("/dist/bin/") || url.endsWith("/bin/mlbatch.js"))).toBe(true);
    expect(ours.some((url) => url.endsWith("/dist/bin/mlbatch.js"))).toBe(true);
    const packages = files.filter((url) => url.includes("/node_modules/"));
    expect(packages.map((url) => url.split("/node_modules/").pop()?.split("/")[0])).toEqual([
      "better-sqlite3",
    ]);
  });

  it("given the bundle's folder, then every script in it is reached from the entry (no chunk of an older build), each with its source map", () => {
    const folder = join(ROOT, "dist", "bin");
    const names = readdirSync(folder);
    const reached = new Set<string>();
    const next = ["mlbatch.js"];
    for (let name = next.pop(); name !== undefined; name = next.pop()) {
      if (reached.has(name)) continue;
      reached.add(name);
      const source = readFileSync(join(folder, name), "utf8");
      for (const [, chunk] of source.matchAll(/["']\.\/([\w.-]+\.js)["']/g)) next.push(chunk!);
    }
    expect([...reached].sort()).toEqual(names.filter((name) => name.endsWith(".js")).sort());
    for (const script of reached) expect(names).toContain(`${script}.map`);
  });
});
