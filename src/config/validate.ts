import type * as z from "zod";
import { MlbatchError } from "../errors.js";
import { Settings } from "../settings.js";

/**
 * Validates a merged, interpolated config against the settings schema.
 *
 * @throws MlbatchError `E_CONFIG` listing every problem with its config path, e.g.
 * `job.inputs.KIND: unknown kind "NoSuchReader", expected one of ParquetReader`
 */
export function validateSettings(config: unknown): Settings {
  const result = Settings.safeParse(config);
  if (result.success) return result.data;
  const lines = result.error.issues.map((issue) => describeIssue(issue, config));
  throw new MlbatchError("E_CONFIG", `invalid configuration:\n${lines.map((l) => `  - ${l}`).join("\n")}`);
}

function describeIssue(issue: z.core.$ZodIssue, config: unknown): string {
  const path = issue.path.map(String).join(".") || "(root)";
  const options = (issue as { options?: unknown }).options;
  if (issue.code === "invalid_union" && "discriminator" in issue && Array.isArray(options)) {
    const value = valueAt(config, issue.path);
    const expected = `expected one of ${options.join(", ")}`;
    return value === undefined
      ? `${path}: missing, ${expected}`
      : `${path}: unknown kind ${JSON.stringify(value)}, ${expected}`;
  }
  if (issue.code === "unrecognized_keys") {
    return issue.keys.map((key) => `${path === "(root)" ? key : `${path}.${key}`}: unknown key`).join("; ");
  }
  if (issue.code === "invalid_type" && valueAt(config, issue.path) === undefined) {
    return `${path}: missing (expected ${issue.expected})`;
  }
  return `${path}: ${issue.message}`;
}

function valueAt(config: unknown, path: readonly PropertyKey[]): unknown {
  let value = config;
  for (const key of path) {
    if (typeof value !== "object" || value === null) return undefined;
    value = (value as Record<PropertyKey, unknown>)[key];
  }
  return value;
}
