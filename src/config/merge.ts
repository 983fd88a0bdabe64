/** A plain mapping, as parsed from YAML. */
export type Mapping = Record<string, unknown>;

/** True for a plain mapping (not an array, not null). */
export function isMapping(value: unknown): value is Mapping {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/**
 * Merges configs as OmegaConf does: mappings merge key by key, recursively; anything else (scalars,
 * lists, null) in a later config replaces the earlier value.
 *
 * @example
 * ```ts
 * deepMerge({ job: { a: 1, b: { c: 2 } } }, { job: { b: { d: 3 } } }); // { job: { a: 1, b: { c: 2, d: 3 } } }
 * ```
 */
export function deepMerge(base: unknown, override: unknown): unknown {
  if (!isMapping(base) || !isMapping(override)) return override;
  const merged: Mapping = { ...base };
  for (const [key, value] of Object.entries(override))
    merged[key] = key in merged ? deepMerge(merged[key], value) : value;
  return merged;
}
