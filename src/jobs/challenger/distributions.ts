/**
 * The distribution of each output column of a run, counted as the predictions stream by: a histogram of
 * a uniform sample for numbers, the counts of the most frequent labels for classes.
 */
import type { Batch } from "../../data/batch.js";
import type { Distribution } from "../../report/sections.js";
import { histograms, Sample } from "./sample.js";

/** Labels counted at most per column (further ones are counted, not listed). */
const TOP_LABELS = 50;

/**
 * Distributions of output columns (see the module's comment).
 *
 * @example
 * ```ts
 * const distributions = new Distributions(["prediction"]);
 * distributions.add(batch);
 * distributions.result(); // { prediction: { bins: ["[1, 50.2)", ...], counts: [...], sampled: false } }
 * ```
 */
export class Distributions {
  private readonly samples = new Map<string, Sample>();
  private readonly labels = new Map<string, Map<string, number>>();

  /** @param outputs - the output columns to count */
  constructor(private readonly outputs: readonly string[]) {}

  /** Counts one batch of outputs. */
  add(batch: Batch): void {
    for (const column of batch.columns) {
      if (!this.outputs.includes(column.name)) continue;
      const { data } = column;
      if (column.type === "float32" || column.type === "float64") {
        const sample = this.samples.get(column.name) ?? new Sample();
        this.samples.set(column.name, sample);
        const values = data as Float32Array | Float64Array;
        for (let i = 0; i < batch.length; i++) sample.add(values[i]!);
      } else {
        const counts = this.labels.get(column.name) ?? new Map<string, number>();
        this.labels.set(column.name, counts);
        for (let i = 0; i < batch.length; i++) {
          const label = String(data[i]);
          counts.set(label, (counts.get(label) ?? 0) + 1);
        }
      }
    }
  }

  /** The distribution per output column. */
  result(): Record<string, Distribution> {
    const result: Record<string, Distribution> = {};
    for (const [name, sample] of this.samples) result[name] = histograms(sample)[0]!;
    for (const [name, counts] of this.labels) {
      const top = [...counts].sort(([a, x], [b, y]) => y - x || a.localeCompare(b)).slice(0, TOP_LABELS);
      result[name] = { bins: top.map(([l]) => l), counts: top.map(([, c]) => c), sampled: false };
    }
    return result;
  }
}
