#!/usr/bin/env node
// The mlbatch command. The TypeScript sources are compiled to dist/ by `npm ci` (the prepare script).
let cli;
try {
  cli = await import("../dist/cli.js");
} catch (error) {
  if (error?.code !== "ERR_MODULE_NOT_FOUND") throw error;
  process.stderr.write(
    "mlbatch: dist/ is missing: run `npm ci` (or `npm run build`) in the mlbatch folder first.\n",
  );
  process.exit(1);
}
process.exitCode = await cli.main(process.argv.slice(2));
