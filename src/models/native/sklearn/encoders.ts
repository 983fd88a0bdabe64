import { isArray, type NdArray } from "../skops/index.js";
import { type Attrs, labelsOf, NotNative } from "./attrs.js";
import type { Col, Frame, Transform } from "./frame.js";

/** A category's value: a number (NaN for a missing one) or a string. */
type Category = number | string;

/** A map from each feature's categories to their indexes (NaN matches NaN, as a Map key). */
function categoryMaps(encoder: Attrs): Map<Category, number>[] {
  if (encoder.get("_infrequent_enabled") === true) {
    throw encoder.refuse("min_frequency", "infrequent categories are not reproduced natively");
  }
  return encoder.list("categories_").map((c, j) => {
    if (!isArray(c)) throw new NotNative(`${encoder.type}.categories_[${j}] is not an array`);
    const map = new Map<Category, number>();
    labelsOf(c as NdArray).forEach((v, i) => {
      map.set(v, i);
    });
    return map;
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
  const outs = maps.map((m, j) => m.size - (drop[j]! >= 0 ? 1 : 0));
  return {
    apply(frame: Frame): Frame {
      const n = frame.length;
      const columns: Float64Array[] = [];
      maps.forEach((map, j) => {
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
  // The categories that are the missing value (NaN, or None in object columns), by feature.
  const missing = maps.map((map) => map.get(Number.NaN));
  return {
    apply(frame: Frame): Frame {
      const n = frame.length;
      const columns = maps.map((map, j) => {
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
