// Loads the command's bundle, dist/bin/mlbatch.cjs, with the V8 code cache the build wrote beside it
// (dist/bin/mlbatch.cjs.v8, scripts/code-cache.mjs): the bytecode of every function the quick start
// runs, so that a run neither parses the bundle whole nor compiles those functions on their first call
// (about a fifth of the quick start's time, docs/benchmarks.md "cold start"). The cache is made once, by
// `npm run build`; a run only reads it and never writes anything. It is used only for the bundle it was
// made from (its SHA-256 heads the file: V8 itself checks no more than the source's length) and by the
// V8 that made it (V8 refuses it otherwise); without it the bundle is compiled as usual.
// Used by bin/mlbatch.js, scripts/code-cache.mjs and test/bundle.test.ts.
import { isAscii } from "node:buffer";
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname } from "node:path";
import { fileURLToPath } from "node:url";
import vm from "node:vm";

/** The bundle. */
export const BUNDLE = fileURLToPath(new URL("../dist/bin/mlbatch.cjs", import.meta.url));
/** Its code cache: the bundle's SHA-256 (32 bytes), then V8's data. */
export const CODE_CACHE = `${BUNDLE}.v8`;
const DIGEST_BYTES = 32;

/**
 * Compiles a bundle as Node compiles a CommonJS module (its wrapper, on the bundle's first line so that
 * its source map's lines stay right), with the code cache when it was made from this bundle's bytes.
 *
 * @param {string} [bundle] - the bundle's path
 * @param {string | null} [codeCache] - its code cache's path (null: compile without one)
 * @returns {{ script: vm.Script, digest: Buffer, cache: "accepted" | "rejected" | "none" }} the
 *   compiled script, the bundle's SHA-256, and what became of the cache (none: missing or another
 *   bundle's; rejected: by V8, made by another V8 or with other flags)
 * @throws the error of reading the bundle (ENOENT when it was not built)
 */
export function compileBundle(bundle = BUNDLE, codeCache = CODE_CACHE) {
  const bytes = readFileSync(bundle);
  const digest = createHash("sha256").update(bytes).digest();
  let cachedData;
  if (codeCache !== null) {
    try {
      const file = readFileSync(codeCache);
      if (file.length > DIGEST_BYTES && digest.equals(file.subarray(0, DIGEST_BYTES)))
        cachedData = file.subarray(DIGEST_BYTES);
    } catch {}
  }
  // The build writes ASCII only (scripts/bundle.mjs): a one-byte string, quicker to make and to scan.
  const source = bytes.toString(isAscii(bytes) ? "latin1" : "utf8");
  const wrapped = `(function (exports, require, module, __filename, __dirname) {${source}\n})`;
  const script = new vm.Script(wrapped, { filename: bundle, cachedData });
  const cache = cachedData === undefined ? "none" : script.cachedDataRejected ? "rejected" : "accepted";
  return { script, digest, cache };
}

/**
 * Compiles ({@link compileBundle}) and runs the command's bundle.
 *
 * @param {{ cache?: boolean }} [options] - `cache: false` compiles without the code cache
 * @returns {{ main: (argv: string[]) => Promise<number>, script: vm.Script, digest: Buffer }} the
 *   bundle's `main`, its script (to make a code cache from) and its SHA-256
 */
export function loadBundle({ cache = true } = {}) {
  const { script, digest } = compileBundle(BUNDLE, cache ? CODE_CACHE : null);
  const module = { exports: {} };
  script.runInThisContext()(module.exports, createRequire(BUNDLE), module, BUNDLE, dirname(BUNDLE));
  return { main: module.exports.main, script, digest };
}
