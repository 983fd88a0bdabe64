/** Uniform samples of a stream of numbers, and their histograms over one range. */
import type { Distribution } from "../../report/sections.js";

/** Rows per column kept for the distributions. */
export const SAMPLE_ROWS = 100_000;
/** Bins of a numeric output's histogram. */
const HISTOGRAM_BINS = 20;

/** A uniform sample of a stream of numbers (Algorithm R, seeded: the same rows every run). */
export class Sample {
  readonly values = new Float64Array(SAMPLE_ROWS);
  private seen = 0;
  private state = 0x9e3779b9;

  add(value: number): void {
    if (this.seen < SAMPLE_ROWS) this.values[this.seen] = value;
    else {
      const j = Math.floor(this.random() * (this.seen + 1));
      if (j < SAMPLE_ROWS) this.values[j] = value;
    }
    this.seen++;
  }

  get held(): Float64Array {
    return this.values.subarray(0, Math.min(this.seen, SAMPLE_ROWS));
  }

  get sampled(): boolean {
    return this.seen > SAMPLE_ROWS;
  }

  /** mulberry32. */
  private random(): number {
    this.state = (this.state + 0x6d2b79f5) | 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
}

/** The samples' histograms over one range: equal-width bins from the smallest value to the largest. */
export function histograms(...samples: readonly Sample[]): Distribution[] {
  let lo = Number.POSITIVE_INFINITY;
  let hi = Number.NEGATIVE_INFINITY;
  for (const sample of samples) {
    for (const v of sample.held) {
      if (v < lo) lo = v;
      if (v > hi) hi = v;
    }
  }
  if (!Number.isFinite(lo) || !Number.isFinite(hi)) {
    return samples.map(() => ({ bins: [], counts: [], sampled: false }));
  }
  const width = (hi - lo) / HISTOGRAM_BINS || 1;
  const bins = Array.from({ length: HISTOGRAM_BINS }, (_, k) => {
    const from = lo + k * width;
    return `[${round(from)}, ${round(from + width)}${k === HISTOGRAM_BINS - 1 ? "]" : ")"}`;
  });
  return samples.map((sample) => {
    const counts = new Array<number>(HISTOGRAM_BINS).fill(0);
    for (const v of sample.held) {
      if (!Number.isFinite(v)) continue;
      counts[Math.min(HISTOGRAM_BINS - 1, Math.floor((v - lo) / width))]!++;
    }
    return { bins, counts, sampled: sample.sampled };
  });
}

function round(value: number): number {
  return Number(value.toPrecision(4));
}
