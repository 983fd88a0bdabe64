// Makes the command's V8 code cache, dist/bin/mlbatch.cjs.v8 (see bin/bundle.js): runs the quick start
// once in this process, as bin/mlbatch.js runs it, and keeps the bytecode V8 compiled for it. Run by
// scripts/bundle.mjs in a process of its own (a plain `node`'s V8 flags, as the command's), with HOME,
// TMPDIR and XDG_CACHE_HOME in a temporary folder and the outputs written there: the build leaves
// nothing else behind. A quick start that fails leaves no cache: the command then compiles the bundle as
// usual.
// usage: node scripts/code-cache.mjs OUTPUT_FOLDER   (from the repository's root)

import { renameSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { CODE_CACHE, loadBundle } from "../bin/bundle.js";

const [folder] = process.argv.slice(2);
if (folder === undefined) throw new Error("usage: node scripts/code-cache.mjs OUTPUT_FOLDER");
const outputs = join(folder, "predictions.parquet");
const { main, script, digest } = loadBundle({ cache: false });
const code = await main([
  "run",
  "examples/bikes/confs/inference.yaml",
  "-e",
  `job: {outputs: {path: ${JSON.stringify(outputs)}}}`,
]);
if (code !== 0) {
  process.stderr.write(`the quick start exited with ${code}\n`);
  process.exit(1);
}
const temp = `${CODE_CACHE}.${process.pid}.tmp`;
try {
  writeFileSync(temp, Buffer.concat([digest, script.createCachedData()]));
  renameSync(temp, CODE_CACHE);
} finally {
  rmSync(temp, { force: true });
}
