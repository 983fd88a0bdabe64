import { readFile } from "node:fs/promises";
import type { YAMLError } from "yaml";
import { MlbatchError, messageOf } from "../errors.js";
import { yaml } from "../packages.js";
import type { Settings } from "../settings.js";
import { interpolate } from "./interpolate.js";
import { deepMerge, isMapping, type Mapping } from "./merge.js";
import { validateSettings } from "./validate.js";

const { parseDocument } = yaml;

/**
 * Loads settings as the reference does: YAML files, then `-e` extras (YAML strings), deep-merged in order
 * (later wins), `${oc.env:...}` interpolated, then validated. Nothing else is read or run before the
 * config is valid.
 *
 * @param files - config file paths
 * @param extras - YAML strings merged over the files, e.g. `job: {alias_or_version: 3}`
 * @param env - environment for interpolation
 * @param overrides - a mapping merged last (what command-line flags set, e.g. `--shard`)
 * @throws MlbatchError `E_CONFIG` naming the file, extra or config path at fault
 * @example
 * ```ts
 * const settings = await loadSettings(["confs/inference.yaml"], ["job: {alias_or_version: 1}"]);
 * ```
 */
export async function loadSettings(
  files: readonly string[],
  extras: readonly string[] = [],
  env: NodeJS.ProcessEnv = process.env,
  overrides: Mapping = {},
): Promise<Settings> {
  let merged: unknown = {};
  for (const file of files)
    merged = deepMerge(merged, parseYaml(await readConfig(file), `config file "${file}"`));
  // An extra is named by its number, never shown: it may hold tokens (-e 'job: {... token: ...}').
  extras.forEach((extra, i) => {
    merged = deepMerge(merged, parseYaml(extra, `-e #${i + 1}`));
  });
  merged = deepMerge(merged, overrides);
  const { config, interpolations } = interpolate(merged, env);
  return validateSettings(config, interpolations);
}

async function readConfig(file: string): Promise<string> {
  try {
    return await readFile(file, "utf8");
  } catch (error) {
    const reason = (error as NodeJS.ErrnoException).code === "ENOENT" ? "no such file" : messageOf(error);
    throw new MlbatchError(
      "E_CONFIG",
      `cannot read config file "${file}": ${reason} (working directory: ${process.cwd()})`,
      {
        cause: error,
      },
    );
  }
}

/**
 * Parses one YAML document. An error names the file or extra, the line and column, and the parser's
 * reason, never the text there (a config may hold tokens); an unknown tag (`!secret`) is an error, as in
 * PyYAML's `safe_load`, not a warning printed with the text.
 */
function parseYaml(text: string, what: string): unknown {
  const doc = parseDocument(text, { prettyErrors: false });
  const error = doc.errors[0] ?? doc.warnings.find((w) => w.code === "TAG_RESOLVE_FAILED");
  // No cause: the parser's error quotes the text.
  if (error !== undefined)
    throw new MlbatchError("E_CONFIG", `${what} is not valid YAML ${where(error, text)}: ${reasonOf(error)}`);
  const value: unknown = doc.toJS();
  if (value === null || value === undefined) return {};
  if (!isMapping(value))
    throw new MlbatchError("E_CONFIG", `${what} must be a YAML mapping (e.g. "job: {...}")`);
  return value;
}

/** `at line 2, column 9`, from the error's offset. */
function where(error: YAMLError, text: string): string {
  const before = text.slice(0, error.pos[0]).split(/\r?\n/);
  return `at line ${before.length}, column ${(before.at(-1)?.length ?? 0) + 1}`;
}

/**
 * The parser's reason without the text it quotes: a few messages end with a piece of the document
 * (`Unresolved tag: !x`, `Invalid escape sequence \\q`), cut off here.
 */
function reasonOf(error: YAMLError): string {
  const reason = (error.message.split("\n")[0] ?? "")
    .replace(/ at line \d+, column \d+:?$/, "")
    .replace(/^(Invalid escape sequence|Unknown directive|Plain value cannot start with)\b.*$/, "$1")
    .replace(/: .*$/, "");
  const tag = error.code === "TAG_RESOLVE_FAILED" ? " (mlbatch reads plain YAML: no tags)" : "";
  return `${reason.charAt(0).toLowerCase()}${reason.slice(1)} (${error.code})${tag}`;
}
