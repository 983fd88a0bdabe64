/**
 * The finishing of a native ensemble's margins, as its library does it: XGBoost in float32 (its
 * predictions are float32, its sigmoid and softmax are `expf` of floats), LightGBM in float64.
 */

/** How a group's margin becomes a prediction. */
export type Link =
  /** The margin (regression, `binary:logitraw`, ranking). */
  | "identity"
  /** `1 / (1 + exp(-scale * z))` (binary classifiers). */
  | "sigmoid"
  /** `exp(z)` (Poisson, gamma, Tweedie). */
  | "exp"
  /** Softmax across the groups (multi-class probabilities). */
  | "softmax"
  /** The index of the largest margin (XGBoost's `multi:softmax`), as a number. */
  | "argmax"
  /** 1 when the margin is positive, else 0 (XGBoost's `binary:hinge`). */
  | "hinge"
  /** A sigmoid per group (LightGBM's `multiclassova`). */
  | "ova";

/** What finishes the margins. */
export interface Head {
  readonly link: Link;
  /** Margin groups per row (classes of a multi-class model, else 1). */
  readonly groups: number;
  readonly precision: "float32" | "float64";
  /** A margin per group, added after the trees' sum (after the average). */
  readonly base: Float64Array;
  /** LightGBM's `sigmoid:` parameter (1 for XGBoost). */
  readonly scale: number;
  /** The sum is divided by this first (LightGBM's `average_output`: the iterations; else 1). */
  readonly divisor: number;
}

/** The predictions' width: one per group, except `argmax` and `hinge`, which give one value. */
export function width(head: Head): number {
  return head.link === "argmax" ? 1 : head.groups;
}

/**
 * Turns the engine's float32 margins (row-major `[n, groups]`) into predictions, row-major
 * `[n, width(head)]`, rounded to float32 when the library computes in float32.
 */
export function finish(head: Head, z: Float32Array, n: number): Float64Array {
  const G = head.groups;
  const out = new Float64Array(n * width(head));
  const r = head.precision === "float32" ? Math.fround : (v: number) => v;
  const margin = new Float64Array(G);
  for (let i = 0; i < n; i++) {
    for (let g = 0; g < G; g++) {
      const s = head.divisor === 1 ? z[i * G + g]! : z[i * G + g]! / head.divisor;
      margin[g] = r(s + head.base[g]!);
    }
    switch (head.link) {
      case "identity":
        for (let g = 0; g < G; g++) out[i * G + g] = margin[g]!;
        break;
      case "exp":
        for (let g = 0; g < G; g++) out[i * G + g] = r(Math.exp(margin[g]!));
        break;
      case "sigmoid":
      case "ova":
        for (let g = 0; g < G; g++) out[i * G + g] = sigmoid(head, margin[g]!);
        break;
      case "hinge":
        out[i] = margin[0]! > 0 ? 1 : 0;
        break;
      case "argmax":
        out[i] = argmax(margin, 0, G);
        break;
      case "softmax":
        softmax(head, margin, out, i * G);
        break;
    }
  }
  return out;
}

/** The index of the first largest of `v[from, from + k)` (NaN never wins). */
export function argmax(v: ArrayLike<number>, from: number, k: number): number {
  let best = 0;
  for (let j = 1; j < k; j++) if (v[from + j]! > v[from + best]!) best = j;
  return best;
}

function sigmoid(head: Head, z: number): number {
  if (head.precision === "float64") return 1 / (1 + Math.exp(-head.scale * z));
  // XGBoost's common::Sigmoid: 1 / (expf(min(-x, 88.7f)) + 1 + 1e-16f), in float.
  const f = Math.fround;
  const e = f(Math.exp(Math.min(f(-z), 88.69999694824219)));
  return f(1 / f(f(e + 1) + f(1e-16)));
}

function softmax(head: Head, margin: Float64Array, out: Float64Array, at: number): void {
  const G = head.groups;
  const r = head.precision === "float32" ? Math.fround : (v: number) => v;
  let max = margin[0]!;
  for (let g = 1; g < G; g++) if (margin[g]! > max) max = margin[g]!;
  // XGBoost sums its float exps in a double and divides by that sum cast to float.
  let sum = 0;
  for (let g = 0; g < G; g++) {
    const e = r(Math.exp(r(margin[g]! - max)));
    out[at + g] = e;
    sum += e;
  }
  const total = r(sum);
  for (let g = 0; g < G; g++) out[at + g] = r(out[at + g]! / total);
}
