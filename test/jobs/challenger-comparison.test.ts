/**
 * The Champion-Challenger comparison of classifiers and regressions, counted batch by batch, checked
 * against pandas (crosstab, value_counts) and numpy on the same labels and values.
 */
import { describe, expect, inject, it } from "vitest";
import type { Batch } from "../../src/data/batch.js";
import { Comparison } from "../../src/jobs/challenger/comparison.js";
import { python } from "../helpers.js";

/** Seeded labels and values: the challenger agrees with the champion on about 80% of the rows. */
const MAKE = `
import json, numpy as np, pandas as pd
rng = np.random.default_rng(3)
a = rng.choice(["setosa", "versicolor", "virginica"], 10_000)
b = np.where(rng.random(10_000) < 0.8, a, rng.choice(["setosa", "versicolor", "virginica"], 10_000))
x = rng.normal(100, 20, 10_000); y = x + rng.normal(0, 5, 10_000)
crosstab = pd.crosstab(a, b).stack()
print(json.dumps({"a": a.tolist(), "b": b.tolist(), "x": x.tolist(), "y": y.tolist(),
  "agreement": float((a == b).mean()),
  "confusion": {f"{i}|{j}": int(n) for (i, j), n in crosstab.items()},
  "counts": pd.Series(a).value_counts().to_dict(),
  "first_disagreeing": [int(i) for i in np.flatnonzero(a != b)[:10]],
  "mean": float(np.abs(x - y).mean()), "max": float(np.abs(x - y).max()), "corr": float(np.corrcoef(x, y)[0, 1]),
  "top": [int(i) for i in np.argsort(-np.abs(x - y), kind="stable")[:10]]}))
`;

interface Made {
  a: string[];
  b: string[];
  x: number[];
  y: number[];
  agreement: number;
  confusion: Record<string, number>;
  counts: Record<string, number>;
  first_disagreeing: number[];
  mean: number;
  max: number;
  corr: number;
  top: number[];
}

/** The paired outputs of rows [from, to), as a paired model returns them. */
function batch(made: Made, from: number, to: number): Batch {
  return {
    length: to - from,
    columns: [
      { name: "label", type: "string", data: made.a.slice(from, to) },
      { name: "value", type: "float64", data: Float64Array.from(made.x.slice(from, to)) },
      { name: "challenger_label", type: "string", data: made.b.slice(from, to) },
      { name: "challenger_value", type: "float64", data: Float64Array.from(made.y.slice(from, to)) },
    ],
  };
}

describe("Champion against Challenger, counted", () => {
  it("given labels and values in uneven batches, then agreement, confusion, differences and correlation are pandas' and numpy's", () => {
    const made = JSON.parse(python(inject("python"), MAKE)) as Made;
    const comparison = new Comparison(["label", "value"]);
    for (const [from, to] of [
      [0, 1],
      [1, 4096],
      [4096, 7000],
      [7000, 10_000],
    ] as const)
      comparison.add(batch(made, from, to));
    const { label, value } = comparison.result();
    expect(label!.kind).toBe("classification");
    expect(label!.rows).toBe(10_000);
    expect(label!.agreement).toBeCloseTo(made.agreement, 12);
    const confusion = Object.fromEntries(
      label!.confusion!.map((p) => [`${p.champion}|${p.challenger}`, p.count]),
    );
    expect(confusion).toEqual(made.confusion);
    expect(
      Object.fromEntries(
        label!.champion_distribution.bins.map((l, i) => [l, label!.champion_distribution.counts[i]]),
      ),
    ).toEqual(made.counts);
    expect(label!.differences.map((d) => d.row)).toEqual(made.first_disagreeing);
    expect(value!.kind).toBe("regression");
    expect(value!.mean_abs_diff).toBeCloseTo(made.mean, 9);
    expect(value!.max_abs_diff).toBeCloseTo(made.max, 12);
    expect(value!.correlation).toBeCloseTo(made.corr, 9);
    expect(value!.differences.map((d) => d.row)).toEqual(made.top);
  });

  it("given identical predictions, then agreement 1, no difference, correlation 1", () => {
    const comparison = new Comparison(["p"]);
    const data = Float32Array.from([1, 2, 3, 4]);
    comparison.add({
      length: 4,
      columns: [
        { name: "p", type: "float32", data },
        { name: "challenger_p", type: "float32", data },
      ],
    });
    const { p } = comparison.result();
    expect(p).toMatchObject({ mean_abs_diff: 0, max_abs_diff: 0, differences: [] });
    expect(p!.correlation).toBeCloseTo(1, 12);
  });
});
