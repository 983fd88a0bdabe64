import { describe, expect, it } from "vitest";
import { float32Down as floor32 } from "../../src/models/native/ensemble.js";
import { Attrs } from "../../src/models/native/sklearn/attrs.js";
import { oneHotEncoder, ordinalEncoder } from "../../src/models/native/sklearn/encoders.js";
import { decodeTrees } from "../../src/models/native/sklearn/engine.js";
import type { NdArray, SkObject, SkValue } from "../../src/models/native/skops/index.js";

/** A fitted object as the skops reader decodes it. */
function object(type: string, attrs: Record<string, SkValue>): SkObject {
  return {
    kind: "object",
    type,
    attrs: { kind: "dict", entries: new Map(Object.entries(attrs)) },
    args: undefined,
  };
}

function strings(...values: string[]): NdArray {
  return { kind: "ndarray", dtype: "|O", shape: [values.length], values };
}

const column = (...values: string[]) => ({ length: values.length, columns: [values] });

describe("encoders, on the edges scikit-learn defines", () => {
  const categories = [strings("a", "b", "c")];

  it("one-hot encodes with drop, the dropped category giving zeros", () => {
    const encoder = oneHotEncoder(
      new Attrs(
        object("sklearn.preprocessing._encoders.OneHotEncoder", {
          categories_: categories,
          handle_unknown: "ignore",
          drop_idx_: { kind: "ndarray", dtype: "|O", shape: [1], values: Float64Array.of(1) },
        }),
      ),
    );
    const out = encoder.apply(column("a", "b", "c", "zz"));
    expect(out.columns.map((c) => Array.from(c as Float64Array))).toEqual([
      [1, 0, 0, 0],
      [0, 0, 1, 0],
    ]);
  });

  it("fails on an unknown category under handle_unknown='error' (expected failure)", () => {
    const encoder = oneHotEncoder(
      new Attrs(
        object("sklearn.preprocessing._encoders.OneHotEncoder", {
          categories_: categories,
          handle_unknown: "error",
          drop_idx_: null,
        }),
      ),
    );
    expect(() => encoder.apply(column("a", "zz"))).toThrow(/unknown category "zz" in feature 0 \(row 1\)/);
  });

  it("encodes unknown categories as unknown_value, and NaN as encoded_missing_value", () => {
    const encoder = ordinalEncoder(
      new Attrs(
        object("sklearn.preprocessing._encoders.OrdinalEncoder", {
          categories_: [
            { kind: "ndarray", dtype: "<f8", shape: [3], values: Float64Array.of(1, 2, Number.NaN) },
          ],
          handle_unknown: "use_encoded_value",
          unknown_value: -1,
          encoded_missing_value: -2,
        }),
      ),
    );
    const out = encoder.apply({ length: 4, columns: [Float64Array.of(2, 1, Number.NaN, 7)] });
    expect(Array.from(out.columns[0] as Float64Array)).toEqual([1, 0, -2, -1]);
  });

  it("groups infrequent categories in one column, where infrequent_if_exist sends unknown ones", () => {
    const mapping: NdArray = { kind: "ndarray", dtype: "<i8", shape: [3], values: Float64Array.of(0, 1, 1) };
    const encoder = oneHotEncoder(
      new Attrs(
        object("sklearn.preprocessing._encoders.OneHotEncoder", {
          categories_: categories,
          handle_unknown: "infrequent_if_exist",
          _infrequent_enabled: true,
          _default_to_infrequent_mappings: [mapping],
          drop_idx_: null,
          _drop_idx_after_grouping: null,
        }),
      ),
    );
    const out = encoder.apply(column("a", "b", "c", "zz"));
    expect(out.columns.map((c) => Array.from(c as Float64Array))).toEqual([
      [1, 0, 0, 0],
      [0, 1, 1, 1],
    ]);
  });

  it("refuses an OrdinalEncoder's infrequent categories, naming the class (expected failure)", () => {
    const attrs = new Attrs(
      object("sklearn.preprocessing._encoders.OrdinalEncoder", {
        categories_: categories,
        _infrequent_enabled: true,
        handle_unknown: "error",
      }),
    );
    expect(() => ordinalEncoder(attrs)).toThrow(
      /sklearn.preprocessing._encoders.OrdinalEncoder with min_frequency/,
    );
  });
});

describe("trees for the engine", () => {
  it("rounds float64 thresholds down to float32, so that float32 x <= t is unchanged", () => {
    const t = 0.1; // float32(0.1) is above 0.1
    expect(floor32(t)).toBeLessThanOrEqual(t);
    expect(Math.fround(floor32(t))).toBe(floor32(t));
    expect(floor32(0.5)).toBe(0.5);
    expect(floor32(-0.1)).toBeLessThanOrEqual(-0.1);
  });

  it("refuses a tree whose child or feature is out of range, as a crafted file may have (expected failure)", () => {
    const tree = {
      feature: [0, 0, 0],
      threshold: [0.5, 0, 0],
      left: [1, -1, -1],
      right: [7, -1, -1],
      missingLeft: [0, 0, 0],
      values: [0, 1, 2],
    };
    expect(() => decodeTrees([tree], 1, "sum", 1)).toThrow(/out of range/);
    expect(() => decodeTrees([{ ...tree, right: [2, -1, -1], feature: [3, 0, 0] }], 1, "sum", 1)).toThrow(
      /out of range/,
    );
  });
});
