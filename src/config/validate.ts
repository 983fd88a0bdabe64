import type * as z from "zod";
import { MlbatchError } from "../errors.js";
import { Settings } from "../settings.js";
import { fieldAt } from "./expected.js";
import { showPath } from "./interpolate.js";
import { isMapping } from "./merge.js";

/**
 * Validates a merged, interpolated config against the settings schema.
 *
 * @throws MlbatchError `E_CONFIG` listing every problem with its config path and what is allowed, e.g.
 * `job.inputs.KIND: unknown kind "NoSuchReader", expected one of ParquetReader`,
 * `job.outputs.mode: 5 is not allowed; expected "error" or "overwrite"`
 */
export function validateSettings(config: unknown): Settings {
  const result = Settings.safeParse(config);
  if (result.success) return result.data;
  const lines = result.error.issues.map((issue) => describeIssue(issue, config));
  throw new MlbatchError("E_CONFIG", `invalid configuration:\n${lines.map((l) => `  - ${l}`).join("\n")}`);
}

function describeIssue(issue: z.core.$ZodIssue, config: unknown): string {
  const at = issue.path.map((key) => (typeof key === "number" ? key : String(key)));
  const path = showPath(at) || "(root)";
  const value = valueAt(config, at);
  const field = fieldAt(at, config);
  const shown = showValue(value, field?.secret ?? false);
  const options = (issue as { options?: unknown }).options;
  if (issue.code === "invalid_union" && "discriminator" in issue && Array.isArray(options)) {
    const expected = `expected one of ${options.join(", ")}`;
    return value === undefined
      ? `${path}: missing, ${expected}`
      : `${path}: unknown kind ${shown}, ${expected}`;
  }
  if (issue.code === "unrecognized_keys") {
    return issue.keys.map((key) => `${showPath([...at, key])}: unknown key`).join("; ");
  }
  if (issue.code === "custom") return `${path}: ${issue.message}`;
  const expected = field?.expected;
  if (value === undefined) return `${path}: missing${expected === undefined ? "" : `; expected ${expected}`}`;
  if (issue.code === "invalid_key") {
    // zod puts the key last in the path; keys are config text, never interpolated.
    const reasons = issue.issues.map((i) => i.message).join("; ");
    return `${showPath(at.slice(0, -1))}: key ${JSON.stringify(at.at(-1))} is not allowed: ${reasons}`;
  }
  return expected === undefined
    ? `${path}: ${shown} is not allowed: ${issue.message}`
    : `${path}: ${shown} is not allowed; expected ${expected}`;
}

/** A value for a message: nothing of a secret field (a URL, a password), scalars as YAML would show them, no content of lists and mappings. */
function showValue(value: unknown, secret: boolean): string {
  if (secret) return "the value (not shown: it may be a secret)";
  if (Array.isArray(value))
    return value.length === 0
      ? "an empty list"
      : `a list of ${value.length} item${value.length === 1 ? "" : "s"}`;
  if (isMapping(value)) return "a mapping";
  if (typeof value !== "string") return String(value);
  return JSON.stringify(value.length > 60 ? `${value.slice(0, 57)}...` : value);
}

function valueAt(config: unknown, path: readonly PropertyKey[]): unknown {
  let value = config;
  for (const key of path) {
    if (typeof value !== "object" || value === null) return undefined;
    value = (value as Record<PropertyKey, unknown>)[key];
  }
  return value;
}
