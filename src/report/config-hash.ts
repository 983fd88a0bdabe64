/**
 * The hash of a config: what the run report records and what a sharded run's plan pins, so that two runs
 * (or shards) can tell whether they ran the same settings.
 */
import { createHash } from "node:crypto";

/**
 * SHA-256 of a config as canonical JSON (keys sorted at every level, undefined values left out), so that
 * the same settings give the same hash whatever the order of the YAML keys.
 *
 * @param config - any JSON-like value (a validated config)
 * @returns 64 hex digits
 * @example
 * ```ts
 * configHash({ b: 1, a: { d: 2, c: 3 } }) === configHash({ a: { c: 3, d: 2 }, b: 1 }); // true
 * ```
 */
export function configHash(config: unknown): string {
  return createHash("sha256").update(canonical(config)).digest("hex");
}

function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(",")}]`;
  if (typeof value === "object" && value !== null) {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonical(v)}`).join(",")}}`;
  }
  return JSON.stringify(value) ?? "null";
}
