/**
 * Profiles and drift checked against numpy and scipy: the figures of a profile (count, nulls, min, max,
 * mean, quantiles, bin counts, categories) against numpy's on the same data, PSI against its numpy
 * formula and the Jensen-Shannon distance against scipy.spatial.distance.jensenshannon.
 */
import { join } from "node:path";
import { describe, expect, inject, it } from "vitest";
import type { Database } from "../../src/data/database.js";
import { compareProfiles, jsDistance, PSI_EPSILON, psi, shares } from "../../src/data/drift.js";
import { EXACT_QUANTILE_ROWS, profileTable, QUANTILES } from "../../src/data/profile.js";
import { quotedString } from "../../src/data/sql.js";
import type { CategoricalProfile, DataProfile, NumericProfile } from "../../src/report/sections.js";
import { eachTest, python } from "../helpers.js";

let db: Database;
let dir: string;
eachTest((d, folder) => {
  db = d;
  dir = folder;
});

/** Two datasets made by numpy: a reference and a shifted one, with nulls, NaN, ties and categories. */
const MAKE = `
import sys, numpy as np, pandas as pd
rng = np.random.default_rng(7)
def frame(n, shift, p):
    x = rng.normal(10 + shift, 2, n)
    x[rng.random(n) < 0.05] = np.nan
    k = rng.integers(0, 24, n).astype("float64")
    k[:3] = np.nan
    c = rng.choice(["a", "b", "c", "d"], n, p=p)
    return pd.DataFrame({"x": x, "k": pd.array(k, dtype="Int64"), "c": c})
frame(int(sys.argv[3]) if len(sys.argv) > 3 else 5000, 0, [0.4, 0.3, 0.2, 0.1]).to_parquet(sys.argv[1], index=False)
frame(3000, 1.5, [0.1, 0.2, 0.3, 0.4]).to_parquet(sys.argv[2], index=False)
`;

/** numpy's figures of a column, binned by the given edges ((e[i-1], e[i]]), or counted by categories. */
const FIGURES = `
import json, sys, numpy as np, pandas as pd
d = pd.read_parquet(sys.argv[1]); spec = json.loads(sys.argv[2]); out = {}
for name, s in spec.items():
    col = d[name]
    if s["kind"] == "numeric":
        v = col.astype("float64").to_numpy(); v = v[~np.isnan(v)]
        counts = np.bincount(np.searchsorted(np.array(s["edges"]), v, side="left"), minlength=len(s["edges"]) + 1)
        out[name] = {"count": int(v.size), "nulls": int(len(col) - v.size), "min": float(v.min()), "max": float(v.max()),
                     "mean": float(v.mean()), "quantiles": [float(q) for q in np.quantile(v, s["quantiles"])],
                     "below": [float(q) for q in np.quantile(v, np.clip(np.array(s["quantiles"]) - 0.02, 0, 1))],
                     "above": [float(q) for q in np.quantile(v, np.clip(np.array(s["quantiles"]) + 0.02, 0, 1))],
                     "deciles": sorted(set(float(q) for q in np.quantile(v, [i / 10 for i in range(1, 10)]))),
                     "counts": [int(c) for c in counts]}
    else:
        v = col.dropna()
        out[name] = {"count": int(v.size), "nulls": int(col.isna().sum()),
                     "counts": [int((v == t).sum()) for t in s["values"]]}
print(json.dumps(out))
`;

const SCIPY = `
import json, sys, numpy as np
from scipy.spatial.distance import jensenshannon
pairs = json.loads(sys.argv[1]); eps = float(sys.argv[2]); out = []
for e, a in pairs:
    e, a = np.array(e), np.array(a)
    ee, aa = np.maximum(e, eps), np.maximum(a, eps)
    out.append({"psi": float(np.sum((aa - ee) * np.log(aa / ee))), "js": float(jensenshannon(e, a, base=2))})
print(json.dumps(out))
`;

const COLUMNS = [
  { name: "x", type: "DOUBLE" },
  { name: "k", type: "BIGINT" },
  { name: "c", type: "VARCHAR" },
];

function make(rows?: number): { reference: string; current: string } {
  const reference = join(dir, "reference.parquet");
  const current = join(dir, "current.parquet");
  python(inject("python"), MAKE, [reference, current, ...(rows === undefined ? [] : [String(rows)])]);
  return { reference, current };
}

function numpyFigures(path: string, profile: Record<string, NumericProfile | CategoricalProfile>) {
  const spec = Object.fromEntries(
    Object.entries(profile).map(([name, p]) => [
      name,
      p.kind === "numeric"
        ? { kind: "numeric", edges: p.histogram.edges, quantiles: QUANTILES }
        : { kind: "categorical", values: p.top.map((t) => t.value) },
    ]),
  );
  return JSON.parse(python(inject("python"), FIGURES, [path, JSON.stringify(spec)])) as Record<
    string,
    {
      count: number;
      nulls: number;
      min?: number;
      max?: number;
      mean?: number;
      quantiles?: number[];
      below?: number[];
      above?: number[];
      deciles?: number[];
      counts: number[];
    }
  >;
}

/**
 * Expects numpy's figures. `approximate`: the quantiles are t-digest's (a profile against a reference),
 * each between numpy's quantiles two percentiles below and above.
 */
function expectFiguresOf(
  profile: Record<string, NumericProfile | CategoricalProfile>,
  path: string,
  approximate = false,
): void {
  const numpy = numpyFigures(path, profile);
  for (const [name, p] of Object.entries(profile)) {
    const want = numpy[name]!;
    expect(p.count, name).toBe(want.count);
    expect(p.nulls, name).toBe(want.nulls);
    if (p.kind === "numeric") {
      expect(p.min).toBeCloseTo(want.min!, 12);
      expect(p.max).toBeCloseTo(want.max!, 12);
      expect(p.mean).toBeCloseTo(want.mean!, 10);
      QUANTILES.forEach((q, i) => {
        const got = p.quantiles[String(q)]!;
        if (!approximate) expect(got, `${name} q${q}`).toBeCloseTo(want.quantiles![i]!, 10);
        else {
          expect(got, `${name} q${q}`).toBeGreaterThanOrEqual(want.below![i]!);
          expect(got, `${name} q${q}`).toBeLessThanOrEqual(want.above![i]!);
        }
      });
      expect(p.histogram.counts, name).toEqual(want.counts);
    } else {
      expect(
        p.top.map((t) => t.count),
        name,
      ).toEqual(want.counts);
      expect(p.other).toBe(p.count - want.counts.reduce((a, b) => a + b, 0));
    }
  }
}

/** The profile of a Parquet file's COLUMNS, against a reference's bins when given. */
function parquetProfile(path: string, label: string, reference?: DataProfile): Promise<DataProfile> {
  return profileTable(db, {
    table: `read_parquet(${quotedString(path)})`,
    label,
    columns: COLUMNS,
    reference,
  });
}

describe("input profile", () => {
  it("given a reference dataset, then its figures and decile bins are numpy's, NaN counted as null", async () => {
    const { reference } = make();
    const profile = await profileTable(db, {
      table: `read_parquet(${quotedString(reference)})`,
      label: reference,
      columns: COLUMNS,
    });
    expect(profile.rows).toBe(5000);
    expectFiguresOf(profile.columns, reference);
    const numpy = numpyFigures(reference, profile.columns);
    const x = profile.columns.x as NumericProfile;
    x.histogram.edges.forEach((edge, i) => {
      expect(edge).toBeCloseTo(numpy.x!.deciles![i]!, 10);
    });
    // Ties: an integer column of 24 values has fewer distinct deciles than nine, and bins still cover it.
    const k = profile.columns.k as NumericProfile;
    expect(k.histogram.edges).toEqual(numpy.k!.deciles);
    expect(k.histogram.counts.reduce((a, b) => a + b, 0)).toBe(k.count);
    expect((profile.columns.c as CategoricalProfile).top.map((t) => t.value)).toEqual(["a", "b", "c", "d"]);
  });

  it("given a reference larger than EXACT_QUANTILE_ROWS, then its quantiles and bins are t-digest's, within 2 percentiles of numpy's", async () => {
    const rows = EXACT_QUANTILE_ROWS + 100_000;
    const { reference } = make(rows);
    const profile = await profileTable(db, {
      table: `read_parquet(${quotedString(reference)})`,
      label: reference,
      columns: COLUMNS,
    });
    expect(profile.rows).toBe(rows);
    // Counts, nulls, min, max, mean and bin counts exact; quantiles within two percentiles.
    expectFiguresOf(profile.columns, reference, true);
    const x = profile.columns.x as NumericProfile;
    const numpy = numpyFigures(reference, profile.columns);
    const q = (p: number) => numpy.x!.quantiles![QUANTILES.indexOf(p as (typeof QUANTILES)[number])]!;
    expect(x.histogram.edges).toHaveLength(9);
    expect(x.histogram.edges[0]).toBeGreaterThan(q(0.05));
    expect(x.histogram.edges[4]).toBeGreaterThan(q(0.4));
    expect(x.histogram.edges[4]).toBeLessThan(q(0.6));
    expect(x.histogram.edges[8]).toBeLessThan(q(0.95));
  });

  it("given a profile against a reference, then it takes the reference's bins and its own figures are numpy's (quantiles within 2 percentiles)", async () => {
    const { reference, current } = make();
    const ref = await parquetProfile(reference, "r");
    const now = await parquetProfile(current, "c", ref);
    expect((now.columns.x as NumericProfile).histogram.edges).toEqual(
      (ref.columns.x as NumericProfile).histogram.edges,
    );
    expectFiguresOf(now.columns, current, true);
  });

  it("given a column of a type not profiled (a list), then it is left out", async () => {
    const profile = await profileTable(db, {
      table: "(SELECT [1, 2] AS l, 1.5 AS x)",
      label: "lists",
      columns: [
        { name: "l", type: "INTEGER[]" },
        { name: "x", type: "DECIMAL(2,1)" },
      ],
    });
    expect(Object.keys(profile.columns)).toEqual(["x"]);
  });

  it("given rows DuckDB cannot read, then E_READ names them", async () => {
    const error = await profileTable(db, {
      table: `read_parquet(${quotedString(join(dir, "missing.parquet"))})`,
      label: "missing.parquet",
      columns: COLUMNS,
    }).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: "E_READ", message: expect.stringContaining('"missing.parquet"') });
  });
});

describe("drift", () => {
  it("given a shifted dataset, then PSI and the JS distance are numpy's and scipy's, and the shift is drift", async () => {
    const { reference, current } = make();
    const ref = await parquetProfile(reference, "r");
    const now = await parquetProfile(current, "c", ref);
    const drift = compareProfiles(ref, now, { moderate: 0.1, significant: 0.25 }, "train");
    const names = ["x", "k", "c"] as const;
    const pairs = names.map((n) => [drift.columns[n]!.reference_shares, drift.columns[n]!.current_shares]);
    const scipy = JSON.parse(
      python(inject("python"), SCIPY, [JSON.stringify(pairs), String(PSI_EPSILON)]),
    ) as { psi: number; js: number }[];
    names.forEach((n, i) => {
      expect(drift.columns[n]!.psi, n).toBeCloseTo(scipy[i]!.psi, 12);
      expect(drift.columns[n]!.js_distance, n).toBeCloseTo(scipy[i]!.js, 12);
    });
    // x moved by 0.75 standard deviations, c's shares reversed: drifted; k is drawn alike: not.
    expect(drift.columns.x).toMatchObject({ drifted: true, level: "significant" });
    expect(drift.columns.c).toMatchObject({ drifted: true });
    expect(drift.columns.k).toMatchObject({ drifted: false, level: "none" });
    expect(drift.drifted).toEqual(["x", "c"].sort((a, b) => drift.columns[b]!.psi - drift.columns[a]!.psi));
  });

  it("given equal shares, then PSI and the JS distance are 0; given disjoint ones, the JS distance is 1", () => {
    expect(psi([0.5, 0.5], [0.5, 0.5])).toBe(0);
    expect(jsDistance([0.5, 0.5], [0.5, 0.5])).toBe(0);
    expect(jsDistance([1, 0], [0, 1])).toBeCloseTo(1, 12);
    expect(shares([0, 0])).toEqual([0, 0]);
  });
});
