/**
 * The CommonJS packages every run loads, taken with `require` rather than `import`. Node's ESM loader
 * scans each CommonJS file an `import` reaches for its named exports (cjs-module-lexer); for DuckDB's
 * 88 files and yaml's 45 that scan cost about 0.3 s of the example's 1.4 s cold start (measured with
 * `--cpu-prof`), and `require` skips it. Types still come from the packages (`import type`).
 *
 * @example
 * ```ts
 * import { duckdb } from "../packages.js";
 * const instance = await duckdb.DuckDBInstance.create(":memory:");
 * ```
 */
import { createRequire } from "node:module";
import type * as DuckDB from "@duckdb/node-api";
import type * as Yaml from "yaml";

const load = createRequire(import.meta.url);

/** `@duckdb/node-api`. */
export const duckdb = load("@duckdb/node-api") as typeof DuckDB;
/** `yaml`. */
export const yaml = load("yaml") as typeof Yaml;
