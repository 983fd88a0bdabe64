#!/usr/bin/env node
// The mlbatch command: dist/bin/mlbatch.cjs, the bundle of src/cli.ts (scripts/bundle.mjs, built by
// `npm ci`'s prepare script or `npm run build`). One file instead of ~600 modules loaded one by one: Node
// 20 has no compile cache for ES modules, and loading them was most of the quick start's cold start
// (docs/benchmarks.md, "cold start"). It is compiled with the V8 code cache the build made beside it
// (bin/bundle.js); a run writes no cache. With --enable-source-maps it is required instead, through
// Node's loader, so that stack traces name src/ lines.
import { existsSync } from "node:fs";
import { createRequire } from "node:module";
import { setFlagsFromString } from "node:v8";
import { BUNDLE, loadBundle } from "./bundle.js";

if (!existsSync(BUNDLE)) {
  process.stderr.write(
    "mlbatch: dist/ is missing: run `npm ci` (or `npm run build`) in the mlbatch folder first.\n",
  );
  process.exit(1);
}
// process.sourceMapsEnabled is Node 20.7's; before it, the flag as given.
const sourceMaps =
  process.sourceMapsEnabled ??
  [...process.execArgv, ...(process.env.NODE_OPTIONS ?? "").split(/\s+/)].includes("--enable-source-maps");
const { main } = sourceMaps ? createRequire(import.meta.url)(BUNDLE) : loadBundle();
// The job's JavaScript heap is small (about 12 MB live) and its allocation rate high: by default V8 sets
// the next collection's limit at 1.1 times the live heap and marks the whole heap every 60 ms, with its
// marking threads taking the cores from the engine's workers (RF 20/8 on 10M rows: 87 full collections,
// 2 CPU-seconds). Growing the limit 4 times, V8's own largest factor, leaves 4 of them (docs/benchmarks.md).
// Set after the bundle is compiled: V8 checks its flags against the code cache's.
setFlagsFromString("--heap-growing-percent=300");
process.exitCode = await main(process.argv.slice(2));
