/**
 * Text fed to a tree feature trained from a pandas category column: each value becomes the code the
 * trees split on, as the libraries re-code a category column (one place for the Booster, XGBoost and the
 * scikit-learn API estimators).
 */

/** The training categories of each feature, by feature (undefined: not a category feature). */
export type FeatureCategories = readonly (readonly (string | number)[] | undefined)[];

/** Per feature, each category's code by its text (a category's code is its position in the list). */
export function categoryLookups(
  categories: FeatureCategories | undefined,
): (ReadonlyMap<string, number> | undefined)[] {
  return (categories ?? []).map((list) =>
    list === undefined ? undefined : new Map(list.map((c, i) => [String(c), i])),
  );
}

/**
 * A string column as category codes: its position in the model's list; NaN for null (a missing value);
 * for a value the training never saw, a code no split lists (as XGBoost's re-coding gives it: it goes
 * where unlisted categories go, which LightGBM sends where it sends NaN).
 */
export function categoryCodes(
  values: readonly (string | null | undefined)[],
  codes: ReadonlyMap<string, number>,
): Float64Array {
  const out = new Float64Array(values.length);
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    out[i] = v === null || v === undefined ? Number.NaN : (codes.get(v) ?? codes.size);
  }
  return out;
}
