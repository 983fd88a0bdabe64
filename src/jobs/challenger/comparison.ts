/**
 * Champion against Challenger, counted as the predictions stream by: per output column, the absolute
 * differences, the sums of a correlation and the rows that differ most (numbers), or the agreement and the
 * confusion of the labels (classes); both distributions from a uniform sample of the rows. Memory is
 * bounded by the sample, whatever the number of rows.
 */
import type { Batch, Column, ColumnData } from "../../data/batch.js";
import type { Distribution, OutputComparison } from "../../report/sections.js";
import { CHALLENGER_PREFIX } from "./paired-model.js";
import { histograms, Sample } from "./sample.js";

/** Rows listed as differing most. */
const TOP_ROWS = 10;
/** Label pairs (and labels) listed at most. */
const TOP_LABELS = 50;

/** A row that differs, before its ids are looked up. */
export interface Difference {
  readonly row: number;
  readonly size: number;
  readonly champion: number | string;
  readonly challenger: number | string;
}

/** What {@link Comparison.result} gives per column: the report's figures, the rows by their position. */
export type ColumnResult = Omit<OutputComparison, "top_differences"> & {
  readonly differences: readonly Difference[];
};

/**
 * The comparison of a paired model's outputs (see the module's comment).
 *
 * @example
 * ```ts
 * const comparison = new Comparison(["prediction"]);
 * comparison.add(batch); // each predicted batch, in order
 * comparison.result();  // { prediction: { kind: "regression", mean_abs_diff: 3.1, ... } }
 * ```
 */
export class Comparison {
  private readonly columns: Map<string, Regression | Classification> = new Map();
  private rows = 0;

  /** @param outputs - the Champion's output columns (the Challenger's are `challenger_<name>`) */
  constructor(private readonly outputs: readonly string[]) {}

  /** Counts one batch of the paired model's outputs, the next in input order. */
  add(batch: Batch): void {
    for (const name of this.outputs) {
      const a = batch.columns.find((c) => c.name === name);
      const b = batch.columns.find((c) => c.name === `${CHALLENGER_PREFIX}${name}`);
      if (a === undefined || b === undefined) continue;
      let counter = this.columns.get(name);
      if (counter === undefined) {
        counter = isNumeric(a) && isNumeric(b) ? new Regression() : new Classification();
        this.columns.set(name, counter);
      }
      counter.add(a.data, b.data, batch.length, this.rows);
    }
    this.rows += batch.length;
  }

  /** The figures per output column. */
  result(): Record<string, ColumnResult> {
    return Object.fromEntries([...this.columns].map(([name, counter]) => [name, counter.result()]));
  }
}

function isNumeric(column: Column): boolean {
  return column.type === "float32" || column.type === "float64";
}

/** The rows of largest `size`, at most {@link TOP_ROWS}. */
class Largest {
  readonly rows: Difference[] = [];

  /** The smallest size that still enters. */
  get floor(): number {
    return this.rows.length < TOP_ROWS ? 0 : this.rows[this.rows.length - 1]!.size;
  }

  add(difference: Difference): void {
    this.rows.push(difference);
    this.rows.sort((x, y) => y.size - x.size || x.row - y.row);
    if (this.rows.length > TOP_ROWS) this.rows.pop();
  }
}

class Regression {
  private n = 0;
  private sumAbs = 0;
  private maxAbs = 0;
  private sx = 0;
  private sy = 0;
  private sxx = 0;
  private syy = 0;
  private sxy = 0;
  private readonly a = new Sample();
  private readonly b = new Sample();
  private readonly largest = new Largest();

  add(a: ColumnData, b: ColumnData, length: number, first: number): void {
    const x = a as Float32Array | Float64Array;
    const y = b as Float32Array | Float64Array;
    for (let i = 0; i < length; i++) {
      const u = x[i]!;
      const v = y[i]!;
      const d = Math.abs(u - v);
      this.sumAbs += d;
      if (d > this.maxAbs) this.maxAbs = d;
      this.sx += u;
      this.sy += v;
      this.sxx += u * u;
      this.syy += v * v;
      this.sxy += u * v;
      this.a.add(u);
      this.b.add(v);
      if (d > this.largest.floor) this.largest.add({ row: first + i, size: d, champion: u, challenger: v });
    }
    this.n += length;
  }

  result(): ColumnResult {
    const { n } = this;
    const cov = this.sxy - (this.sx * this.sy) / n;
    const vx = this.sxx - (this.sx * this.sx) / n;
    const vy = this.syy - (this.sy * this.sy) / n;
    const correlation = n > 1 && vx > 0 && vy > 0 ? cov / Math.sqrt(vx * vy) : null;
    const [champion, challenger] = histograms(this.a, this.b) as [Distribution, Distribution];
    return {
      kind: "regression",
      rows: n,
      mean_abs_diff: n === 0 ? 0 : this.sumAbs / n,
      max_abs_diff: this.maxAbs,
      correlation,
      champion_distribution: champion,
      challenger_distribution: challenger,
      differences: this.largest.rows,
    };
  }
}

class Classification {
  private n = 0;
  private agreed = 0;
  private readonly pairs = new Map<string, number>();
  private readonly a = new Map<string, number>();
  private readonly b = new Map<string, number>();
  private readonly disagreeing: Difference[] = [];

  add(a: ColumnData, b: ColumnData, length: number, first: number): void {
    for (let i = 0; i < length; i++) {
      const u = String(a[i]);
      const v = String(b[i]);
      if (u === v) this.agreed++;
      else if (this.disagreeing.length < TOP_ROWS)
        this.disagreeing.push({ row: first + i, size: 1, champion: u, challenger: v });
      const key = `${u}\u0000${v}`;
      this.pairs.set(key, (this.pairs.get(key) ?? 0) + 1);
      this.a.set(u, (this.a.get(u) ?? 0) + 1);
      this.b.set(v, (this.b.get(v) ?? 0) + 1);
    }
    this.n += length;
  }

  result(): ColumnResult {
    const confusion = [...this.pairs]
      .sort(([, x], [, y]) => y - x)
      .slice(0, TOP_LABELS)
      .map(([key, count]) => {
        const [champion = "", challenger = ""] = key.split("\u0000");
        return { champion, challenger, count };
      });
    const labels = [...new Set([...this.a.keys(), ...this.b.keys()])]
      .sort((x, y) => (this.a.get(y) ?? 0) - (this.a.get(x) ?? 0) || x.localeCompare(y))
      .slice(0, TOP_LABELS);
    const distribution = (counts: Map<string, number>): Distribution => ({
      bins: labels,
      counts: labels.map((l) => counts.get(l) ?? 0),
      sampled: false,
    });
    return {
      kind: "classification",
      rows: this.n,
      agreement: this.n === 0 ? 1 : this.agreed / this.n,
      confusion,
      champion_distribution: distribution(this.a),
      challenger_distribution: distribution(this.b),
      differences: this.disagreeing,
    };
  }
}
