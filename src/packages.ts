/**
 * The CommonJS packages every run loads, taken with `require` rather than `import`. Node's ESM loader
 * scans each CommonJS file an `import` reaches for its named exports (cjs-module-lexer); for DuckDB's
 * 88 files and yaml's 45 that scan cost about 0.3 s of the example's 1.4 s cold start (measured with
 * `--cpu-prof`), and `require` skips it. Types still come from the packages (`import type`). In the
 * command's bundle (scripts/bundle.mjs) these lines become imports, and the packages are bundled.
 *
 * @example
 * ```ts
 * import { duckdb } from "../packages.js";
 * const instance = await duckdb.DuckDBInstance.create(":memory:");
 * ```
 */
import { existsSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import type * as DuckDB from "@duckdb/node-api";
import type * as Bindings from "@duckdb/node-bindings";
import type * as Yaml from "yaml";

const load = createRequire(import.meta.url);

/** Package `name` as package `owner` (a dependency of mlbatch's) resolves it. */
function loadBeside(owner: string, name: string): unknown {
  return createRequire(load.resolve(owner))(name);
}

let root: string | undefined;

/**
 * A file of mlbatch's own package (`package.json`, `python/...`), by its path from the package's folder:
 * the nearest folder above this module that holds a `package.json`. This module is `src/packages.ts`,
 * `dist/packages.js` or part of the command's bundle in `dist/bin/`, so no fixed `../` fits them all.
 *
 * @param path - the file's path from the package's folder
 * @returns its absolute path
 */
export function packageFile(path: string): string {
  if (root === undefined) {
    let dir = dirname(fileURLToPath(import.meta.url));
    while (!existsSync(join(dir, "package.json")) && dirname(dir) !== dir) dir = dirname(dir);
    root = dir;
  }
  return join(root, path);
}

/** `@duckdb/node-api`. */
export const duckdb = load("@duckdb/node-api") as typeof DuckDB;
/**
 * `@duckdb/node-bindings`, DuckDB's C API, for the reads node-api's classes make slow (see
 * `data/vectors.ts`): resolved from node-api's own folder, so that it is the copy node-api loads (its
 * handles belong to that addon), however the packages are laid out (npm's hoisting, pnpm's links).
 */
export const duckdbBindings = loadBeside("@duckdb/node-api", "@duckdb/node-bindings") as typeof Bindings;
/** `yaml`. */
export const yaml = load("yaml") as typeof Yaml;
