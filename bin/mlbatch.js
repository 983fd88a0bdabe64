#!/usr/bin/env node
// The mlbatch command: dist/bin/mlbatch.cjs, the bundle of src/cli.ts (scripts/bundle.mjs, built by
// `npm ci`'s prepare script or `npm run build`), compiled with a V8 code cache. Node 20 has no compile cache
// for modules: without one, every run parses the bundle and compiles each function it calls again (about
// a third of the quick start's time, docs/benchmarks.md "cold start"). The cache is V8's own
// (`vm.Script` cachedData), one file per Node version, build and command, beside the model cache
// (`$XDG_CACHE_HOME/mlbatch/code`, else `~/.cache/mlbatch/code`); it is written after a successful run
// when it was missing or V8 refused it, and a cache that cannot be read or written is only not used.
import {
  closeSync,
  fstatSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import vm from "node:vm";

const bundle = fileURLToPath(new URL("../dist/bin/mlbatch.cjs", import.meta.url));
let source;
let built;
try {
  const fd = openSync(bundle, "r");
  try {
    built = fstatSync(fd);
    source = readFileSync(fd, "utf8");
  } finally {
    closeSync(fd);
  }
} catch (error) {
  if (error?.code !== "ENOENT") throw error;
  process.stderr.write(
    "mlbatch: dist/ is missing: run `npm ci` (or `npm run build`) in the mlbatch folder first.\n",
  );
  process.exit(1);
}

/** The cache folder, as registry/cache.ts places the model cache (`models` there, `code` here). */
function cacheDir(env = process.env) {
  if (env.XDG_CACHE_HOME) return join(env.XDG_CACHE_HOME, "mlbatch", "code");
  if (process.platform === "win32" && env.LOCALAPPDATA) return join(env.LOCALAPPDATA, "mlbatch", "code");
  return join(env.HOME || env.USERPROFILE || ".", ".cache", "mlbatch", "code");
}

// One entry per Node version and build (the bundle's size and time), and command: what a run compiles
// depends on the command, and V8 keeps what the run that wrote the cache had compiled.
const argv = process.argv.slice(2);
const command = /^[a-z]+$/.test(argv[0] ?? "") ? argv[0] : "other";
const node = `${process.version}-${process.arch}`;
const dir = cacheDir();
const entry = join(dir, `${node}-${built.size}-${Math.trunc(built.mtimeMs)}-${command}.v8`);
let cachedData;
try {
  cachedData = readFileSync(entry);
} catch {}

if (process.sourceMapsEnabled) {
  // --enable-source-maps: Node's own loader, which maps the frames (none of a vm.Script's); no cache then.
  process.exitCode = await createRequire(import.meta.url)(bundle).main(argv);
} else {
  // CommonJS's wrapper, on the bundle's first line (its source map's lines stay right).
  const wrapped = `(function (exports, require, module, __filename, __dirname) {${source}\n})`;
  const script = new vm.Script(wrapped, { filename: bundle, cachedData });
  const module = { exports: {} };
  script.runInThisContext()(module.exports, createRequire(bundle), module, bundle, dirname(bundle));
  process.exitCode = await module.exports.main(argv);
  if (process.exitCode === 0 && (cachedData === undefined || script.cachedDataRejected)) save(script);
}

/** Writes the cache (whole, renamed into place) and removes this Node's entries of other builds. */
function save(script) {
  const temp = `${entry}.${process.pid}.tmp`;
  try {
    mkdirSync(dir, { recursive: true });
    const current = `${node}-${built.size}-${Math.trunc(built.mtimeMs)}-`;
    for (const name of readdirSync(dir)) {
      const pid = /\.(\d+)\.tmp$/.exec(name)?.[1];
      const stale =
        pid !== undefined ? !alive(Number(pid)) : name.startsWith(`${node}-`) && !name.startsWith(current);
      if (stale) rmSync(join(dir, name), { force: true });
    }
    writeFileSync(temp, script.createCachedData());
    renameSync(temp, entry);
  } catch {
    try {
      rmSync(temp, { force: true });
    } catch {}
  }
}

function alive(pid) {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return error.code === "EPERM";
  }
}
