import { Attrs } from "./attrs.js";
import { type Col, type Frame, numeric, type Transform } from "./frame.js";

/** Applies `f(value, feature)` to every numeric column. */
function map(frame: Frame, what: string, f: (v: number, j: number) => number): Frame {
  const columns = frame.columns.map((_c, j) => {
    const input = numeric(frame, j, what);
    const out = new Float64Array(frame.length);
    for (let i = 0; i < out.length; i++) out[i] = f(input[i]!, j);
    return out;
  });
  return { length: frame.length, columns };
}

function optionalNumbers(scaler: Attrs, name: string): Float64Array | undefined {
  const v = scaler.get(name);
  return v === null || v === undefined ? undefined : scaler.numbers(name);
}

/** A fitted StandardScaler: `(x - mean_) / scale_`, either left out when not fitted. */
export function standardScaler(scaler: Attrs): Transform {
  const mean = optionalNumbers(scaler, "mean_");
  const scale = optionalNumbers(scaler, "scale_");
  return {
    apply: (frame) =>
      map(frame, scaler.type, (v, j) => {
        const centered = mean === undefined ? v : v - mean[j]!;
        return scale === undefined ? centered : centered / scale[j]!;
      }),
  };
}

/** A fitted MinMaxScaler: `x * scale_ + min_`, clipped to `feature_range` when `clip`. */
export function minMaxScaler(scaler: Attrs): Transform {
  const scale = scaler.numbers("scale_");
  const min = scaler.numbers("min_");
  const clip = scaler.get("clip") === true;
  const range = scaler.get("feature_range");
  const [low, high] = Array.isArray(range) ? (range as number[]) : [0, 1];
  return {
    apply: (frame) =>
      map(frame, scaler.type, (v, j) => {
        const y = v * scale[j]! + min[j]!;
        return clip ? Math.min(Math.max(y, low!), high!) : y;
      }),
  };
}

/**
 * A fitted SimpleImputer: missing values (NaN, or the number `missing_values`; in string columns a null,
 * which a batch holds as "") become `statistics_`; features all missing at fit are dropped unless
 * `keep_empty_features`; `add_indicator` appends MissingIndicator's columns.
 */
export function simpleImputer(imputer: Attrs): Transform {
  const missing = imputer.get("missing_values");
  if (typeof missing !== "number" && missing !== null) {
    throw imputer.refuse("missing_values", "mlbatch imputes NaN, None or a number");
  }
  const stats = imputer.array("statistics_").values;
  const keepEmpty = imputer.get("keep_empty_features") === true;
  const empty = (j: number) => stats instanceof Float64Array && Number.isNaN(stats[j]!);
  const kept = Array.from(stats.keys()).filter((j) => keepEmpty || !empty(j));
  const isMissing =
    missing === null || Number.isNaN(missing) ? (v: number) => Number.isNaN(v) : (v: number) => v === missing;
  // add_indicator: a 0/1 column per feature that had missing values at fit (`indicator_.features_`), after
  // the imputed ones, from the values before imputation.
  const indicated =
    imputer.get("add_indicator") === true
      ? new Attrs(imputer.get("indicator_"), "a MissingIndicator").numbers("features_")
      : [];
  return {
    apply(frame: Frame): Frame {
      const indicators = Array.from(indicated, (j) => {
        const column = frame.columns[j]!;
        return Float64Array.from(column as ArrayLike<number | string>, (v) =>
          (typeof v === "string" ? v === "" : isMissing(v)) ? 1 : 0,
        );
      });
      const columns: Col[] = kept.map((j) => {
        const column = frame.columns[j]!;
        const stat = stats[j]!;
        if (!(column instanceof Float64Array)) {
          if (typeof stat !== "string")
            throw new Error(`${imputer.type} imputes numbers, and feature ${j} holds strings`);
          return column.map((v) => (v === "" ? stat : v));
        }
        if (typeof stat === "string")
          throw new Error(`${imputer.type} imputes strings, and feature ${j} holds numbers`);
        const fill = empty(j) ? 0 : stat;
        return column.map((v) => (isMissing(v) ? fill : v));
      });
      return { length: frame.length, columns: [...columns, ...indicators] };
    },
  };
}
