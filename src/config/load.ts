import { readFile } from "node:fs/promises";
import { parse, YAMLParseError } from "yaml";
import { MlbatchError, messageOf } from "../errors.js";
import type { Settings } from "../settings.js";
import { interpolate } from "./interpolate.js";
import { deepMerge, isMapping } from "./merge.js";
import { validateSettings } from "./validate.js";

/**
 * Loads settings as the reference does: YAML files, then `-e` extras (YAML strings), deep-merged in order
 * (later wins), `${oc.env:...}` interpolated, then validated. Nothing else is read or run before the
 * config is valid.
 *
 * @param files - config file paths
 * @param extras - YAML strings merged over the files, e.g. `job: {alias_or_version: 3}`
 * @param env - environment for interpolation
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
): Promise<Settings> {
  let merged: unknown = {};
  for (const file of files)
    merged = deepMerge(merged, parseYaml(await readConfig(file), `config file "${file}"`));
  extras.forEach((extra, i) => {
    merged = deepMerge(merged, parseYaml(extra, `extras #${i + 1} (-e ${JSON.stringify(extra)})`));
  });
  return validateSettings(interpolate(merged, env));
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

function parseYaml(text: string, what: string): unknown {
  let value: unknown;
  try {
    value = parse(text);
  } catch (error) {
    const where = error instanceof YAMLParseError && error.linePos ? ` at line ${error.linePos[0].line}` : "";
    throw new MlbatchError(
      "E_CONFIG",
      `${what} is not valid YAML${where}: ${messageOf(error).split("\n")[0]}`,
      {
        cause: error,
      },
    );
  }
  if (value === null || value === undefined) return {};
  if (!isMapping(value))
    throw new MlbatchError("E_CONFIG", `${what} must be a YAML mapping (e.g. "job: {...}")`);
  return value;
}
