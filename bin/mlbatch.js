#!/usr/bin/env node
// The mlbatch command: the bundle of src/cli.ts in dist/bin/ (scripts/bundle.mjs), built by `npm ci` (the
// prepare script) or `npm run build`.
let cli;
try {
  cli = await import("../dist/bin/mlbatch.js");
} catch (error) {
  if (error?.code !== "ERR_MODULE_NOT_FOUND" || !String(error.message).includes("dist/bin/mlbatch.js"))
    throw error;
  process.stderr.write(
    "mlbatch: dist/ is missing: run `npm ci` (or `npm run build`) in the mlbatch folder first.\n",
  );
  process.exit(1);
}
process.exitCode = await cli.main(process.argv.slice(2));
