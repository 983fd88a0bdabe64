#!/usr/bin/env node
// The mlbatch command: dist/bin/mlbatch.cjs, the bundle of src/cli.ts (scripts/bundle.mjs, built by
// `npm ci`'s prepare script or `npm run build`). One file instead of ~600 modules loaded one by one: Node
// 20 has no compile cache for ES modules, and loading them was most of the quick start's cold start
// (docs/benchmarks.md, "cold start"). A V8 code cache written after each run was measured too and left
// out: it would be a file written outside the job's outputs on every first run (see that section).
import { existsSync } from "node:fs";
import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";

const bundle = fileURLToPath(new URL("../dist/bin/mlbatch.cjs", import.meta.url));
if (!existsSync(bundle)) {
  process.stderr.write(
    "mlbatch: dist/ is missing: run `npm ci` (or `npm run build`) in the mlbatch folder first.\n",
  );
  process.exit(1);
}
process.exitCode = await createRequire(import.meta.url)(bundle).main(process.argv.slice(2));
