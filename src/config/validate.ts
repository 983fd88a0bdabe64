import type * as z from "zod";
import { MlbatchError } from "../errors.js";
import { Settings } from "../settings.js";
import { fieldAt } from "./expected.js";
import { type ConfigPath, type Interpolation, showPath } from "./interpolate.js";
import { isMapping } from "./merge.js";

/**
 * A config is parsed once per run: zod's compiled fast path (generated with `new Function` on an object
 * schema's first parse) costs more to build than that one parse saves (docs/benchmarks.md, "cold start").
 */
const ONCE = { jitless: true } as const;

/**
 * Validates a merged, interpolated config against the settings schema. A value that is exactly one
 * `${oc.env:...}` is the variable's text; when that text is a number or `true`/`false` and the field
 * takes one (`batch_size: ${oc.env:BS}`), it is read as such, else it stays the text (a secret `12345`
 * stays a string). Messages never show a value that came from the environment: `<from ${NAME}>` instead.
 *
 * @param config - the merged config, interpolated
 * @param interpolations - where values were interpolated ({@link interpolate})
 * @throws MlbatchError `E_CONFIG` listing every problem with its config path and what is allowed, e.g.
 * `job.inputs.KIND: unknown kind "NoSuchReader", expected one of ParquetReader`,
 * `job.outputs.mode: 5 is not allowed; expected "error" or "overwrite"`
 */
export function validateSettings(config: unknown, interpolations: readonly Interpolation[] = []): Settings {
  const literals = interpolations.flatMap((i) => {
    const text = valueAt(config, i.path);
    const decoded = i.whole && typeof text === "string" ? literalOf(text) : undefined;
    return decoded === undefined ? [] : [{ path: i.path, text, decoded }];
  });
  let candidate = withValues(
    config,
    literals.map((l) => [l.path, l.decoded]),
  );
  let result = Settings.safeParse(candidate, ONCE);
  if (!result.success) {
    // A field that refuses the number or boolean gets the text back (a string field, a bad value).
    const issues = result.error.issues;
    const refused = literals.filter((l) => issues.some((issue) => samePath(issue.path, l.path)));
    if (refused.length > 0) {
      candidate = withValues(
        candidate,
        refused.map((l) => [l.path, l.text]),
      );
      result = Settings.safeParse(candidate, ONCE);
    }
  }
  if (result.success) return result.data;
  const lines = result.error.issues.map((issue) => describeIssue(issue, candidate, interpolations));
  throw new MlbatchError("E_CONFIG", `invalid configuration:\n${lines.map((l) => `  - ${l}`).join("\n")}`);
}

function describeIssue(
  issue: z.core.$ZodIssue,
  config: unknown,
  interpolations: readonly Interpolation[],
): string {
  const at = issue.path.map((key) => (typeof key === "number" ? key : String(key)));
  const path = showPath(at) || "(root)";
  const value = valueAt(config, at);
  const field = fieldAt(at, config);
  const shown = showValue(at, value, interpolations, field?.secret ?? false);
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
  if (issue.code === "custom") return `${path}: ${redacted(issue.message, config, interpolations)}`;
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

/**
 * A value for a message: `<from ${NAME}>` for an interpolated one, nothing of a secret field (a URL, a
 * password), scalars as YAML would show them, no content of lists and mappings.
 */
function showValue(
  path: ConfigPath,
  value: unknown,
  interpolations: readonly Interpolation[],
  secret: boolean,
): string {
  const from = interpolations.find((i) => samePath(i.path, path));
  if (from !== undefined) return `<from ${from.names.map((name) => `\${${name}}`).join(" and ")}>`;
  if (secret) return "the value (not shown: it may be a secret)";
  if (Array.isArray(value))
    return value.length === 0
      ? "an empty list"
      : `a list of ${value.length} item${value.length === 1 ? "" : "s"}`;
  if (isMapping(value)) return "a mapping";
  if (typeof value !== "string") return String(value);
  return JSON.stringify(value.length > 60 ? `${value.slice(0, 57)}...` : value);
}

/** A message written by a refinement, with any interpolated text in it replaced. */
function redacted(message: string, config: unknown, interpolations: readonly Interpolation[]): string {
  return interpolations.reduce((text, i) => {
    const value = valueAt(config, i.path);
    return typeof value === "string" && value !== ""
      ? text.split(value).join(`<from \${${i.names[0]}}>`)
      : text;
  }, message);
}

/** The number or boolean a variable's text stands for, when it is strictly one (YAML 1.2 core schema). */
function literalOf(text: string): number | boolean | undefined {
  if (/^[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?$/.test(text)) return Number(text);
  if (/^(?:true|True|TRUE)$/.test(text)) return true;
  if (/^(?:false|False|FALSE)$/.test(text)) return false;
  return undefined;
}

function withValues(config: unknown, values: readonly (readonly [ConfigPath, unknown])[]): unknown {
  if (values.length === 0) return config;
  const copy = structuredClone(config);
  for (const [path, value] of values) {
    const parent = valueAt(copy, path.slice(0, -1)) as Record<PropertyKey, unknown>;
    parent[path.at(-1) as PropertyKey] = value;
  }
  return copy;
}

function samePath(a: readonly PropertyKey[], b: ConfigPath): boolean {
  return a.length === b.length && a.every((key, i) => key === b[i]);
}

function valueAt(config: unknown, path: readonly PropertyKey[]): unknown {
  let value = config;
  for (const key of path) {
    if (typeof value !== "object" || value === null) return undefined;
    value = (value as Record<PropertyKey, unknown>)[key];
  }
  return value;
}
