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
): { map: Map<Category, number>; nan: number | undefined; count: number }[] {
  if (encoder.get("_infrequent_enabled") === true) {
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

/** A fitted OneHotEncoder: `drop` (`drop_idx_`), `handle_unknown` error or ignore (and infrequent_if_exist without infrequent categories). */
export function oneHotEncoder(encoder: Attrs): Transform {
  const maps = categoryMaps(encoder);
  const handle = encoder.get("handle_unknown");
  if (handle !== "error" && handle !== "ignore" && handle !== "infrequent_if_exist") {
    throw encoder.refuse("handle_unknown", "mlbatch reproduces error, ignore and infrequent_if_exist");
  }
  const dropValue = encoder.get("drop_idx_");
  const drop = maps.map((_, j) => {
    if (dropValue === null || dropValue === undefined) return -1;
    const v = isArray(dropValue) ? (dropValue.values as Float64Array)[j] : Number.NaN;
    return typeof v === "number" && !Number.isNaN(v) ? v : -1;
  });
  const outs = maps.map((m, j) => m.count - (drop[j]! >= 0 ? 1 : 0));
  return {
    apply(frame: Frame): Frame {
      const n = frame.length;
      const columns: Float64Array[] = [];
      maps.forEach(({ map }, j) => {
        const input = frame.columns[j]!;
        const out = Array.from({ length: outs[j]! }, () => new Float64Array(n));
        for (let i = 0; i < n; i++) {
          const c = lookup(map, input, i);
          if (c === undefined) {
            if (handle === "error") throw unknownError(encoder, j, input, i);
            continue;
          }
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
