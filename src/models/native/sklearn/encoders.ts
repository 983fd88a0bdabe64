import { isArray, type NdArray, type SkValue } from "../skops/index.js";
import { type Attrs, labelsOf, NotNative } from "./attrs.js";
import type { Col, Frame, Transform } from "./frame.js";

/** A category's value: a number (NaN for a missing one) or a string. */
type Category = number | string;

/**
 * For each feature, a map from its categories to their indexes, and the index of its NaN category
 * (scikit-learn's missing category: `encoded_missing_value` applies to it, not to None). A batch holds a
 * null string as "": None and NaN among string categories are what "" matches.
 */
function categoryMaps(
  encoder: Attrs,
  infrequent = false,
): { map: Map<Category, number>; nan: number | undefined; count: number }[] {
  if (!infrequent && encoder.get("_infrequent_enabled") === true) {
    throw encoder.refuse("min_frequency", "infrequent categories are not reproduced natively");
  }
  return encoder.list("categories_").map((c, j) => {
    const map = new Map<Category, number>();
    let nan: number | undefined;
    const items: readonly SkValue[] | undefined = isArray(c)
      ? labelsOf(c as NdArray)
      : typeof c === "object" && c !== null && "kind" in c && c.kind === "objects"
        ? c.items
        : undefined;
    if (items === undefined) throw new NotNative(`${encoder.type}.categories_[${j}] is not an array`);
    const strings = items.some((v) => typeof v === "string");
    items.forEach((v, i) => {
      const isNan = typeof v === "number" && Number.isNaN(v);
      if (isNan) nan ??= i;
      if (typeof v === "string" || (typeof v === "number" && !(strings && isNan))) {
        if (!map.has(v)) map.set(v, i);
      } else if (typeof v === "boolean") {
        // A boolean category (an imputer's missing indicator, say) matches 0 and 1.
        if (!map.has(v ? 1 : 0)) map.set(v ? 1 : 0, i);
      } else if (v === null || isNan) {
        if (!map.has("")) map.set("", i);
      } else throw new NotNative(`${encoder.type}.categories_[${j}] holds ${typeof v} values`);
    });
    return { map, nan, count: items.length };
  });
}

function lookup(map: Map<Category, number>, column: Col, i: number): number | undefined {
  return map.get(column[i]!);
}

function unknownError(encoder: Attrs, j: number, column: Col, i: number): Error {
  return new Error(
    `${encoder.className} found an unknown category ${JSON.stringify(column[i])} in feature ${j} (row ${i})`,
  );
}

/**
 * A fitted OneHotEncoder: `drop`, infrequent categories (one shared column), `handle_unknown` error,
 * ignore (zeros) or infrequent_if_exist (the infrequent column, where the feature has one; else zeros).
 */
export function oneHotEncoder(encoder: Attrs): Transform {
  const maps = categoryMaps(encoder, true);
  const handle = encoder.get("handle_unknown");
  if (handle !== "error" && handle !== "ignore" && handle !== "infrequent_if_exist") {
    throw encoder.refuse("handle_unknown", "mlbatch reproduces error, ignore and infrequent_if_exist");
  }
  // Infrequent categories (min_frequency, max_categories) share one column, the last of their feature:
  // `_default_to_infrequent_mappings` maps a category to its column before the drop.
  const grouped =
    encoder.get("_infrequent_enabled") === true ? encoder.get("_default_to_infrequent_mappings") : undefined;
  const mappings = maps.map((m, j) => {
    const mapping = Array.isArray(grouped) ? grouped[j] : undefined;
    if (mapping === null || mapping === undefined) return undefined;
    if (!isArray(mapping) || mapping.values.length !== m.count) {
      throw new NotNative(
        `${encoder.type}._default_to_infrequent_mappings[${j}] is not one index per category`,
      );
    }
    return mapping.values as Float64Array;
  });
  // The dropped column, after grouping (scikit-learn >= 1.3 stores it; before, drop_idx_ is the same).
  const dropValue = encoder.has("_drop_idx_after_grouping")
    ? encoder.get("_drop_idx_after_grouping")
    : encoder.get("drop_idx_");
  const drop = maps.map((_, j) => {
    if (dropValue === null || dropValue === undefined) return -1;
    const v = isArray(dropValue) ? (dropValue.values as Float64Array)[j] : Number.NaN;
    return typeof v === "number" && !Number.isNaN(v) ? v : -1;
  });
  const groups = maps.map((m, j) => (mappings[j] === undefined ? m.count : Math.max(...mappings[j]!) + 1));
  const outs = groups.map((g, j) => g - (drop[j]! >= 0 ? 1 : 0));
  return {
    apply(frame: Frame): Frame {
      const n = frame.length;
      const columns: Float64Array[] = [];
      maps.forEach(({ map }, j) => {
        const input = frame.columns[j]!;
        const out = Array.from({ length: outs[j]! }, () => new Float64Array(n));
        const mapping = mappings[j];
        for (let i = 0; i < n; i++) {
          const found = lookup(map, input, i);
          let c: number;
          if (found !== undefined) c = mapping === undefined ? found : mapping[found]!;
          else if (handle === "error") throw unknownError(encoder, j, input, i);
          else if (handle === "infrequent_if_exist" && mapping !== undefined) c = groups[j]! - 1;
          else continue;
          if (c === drop[j]) continue;
          out[drop[j]! >= 0 && c > drop[j]! ? c - 1 : c]![i] = 1;
        }
        columns.push(...out);
      });
      return { length: n, columns };
    },
  };
}

/** A fitted OrdinalEncoder: `handle_unknown` error or use_encoded_value (`unknown_value`), `encoded_missing_value`. */
export function ordinalEncoder(encoder: Attrs): Transform {
  const maps = categoryMaps(encoder);
  const handle = encoder.get("handle_unknown");
  if (handle !== "error" && handle !== "use_encoded_value") {
    throw encoder.refuse("handle_unknown", "mlbatch reproduces error and use_encoded_value");
  }
  const unknown = handle === "use_encoded_value" ? encoder.number("unknown_value") : Number.NaN;
  const missingValue = encoder.has("encoded_missing_value")
    ? encoder.number("encoded_missing_value")
    : Number.NaN;
  const missing = maps.map((m) => m.nan);
  return {
    apply(frame: Frame): Frame {
      const n = frame.length;
      const columns = maps.map(({ map }, j) => {
        const input = frame.columns[j]!;
        const out = new Float64Array(n);
        for (let i = 0; i < n; i++) {
          const c = lookup(map, input, i);
          if (c === undefined) {
            if (handle === "error") throw unknownError(encoder, j, input, i);
            out[i] = unknown;
          } else out[i] = c === missing[j] ? missingValue : c;
        }
        return out;
      });
      return { length: n, columns };
    },
  };
}
