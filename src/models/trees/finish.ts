/**
 * The finishing of a tree ensemble's scores, as ONNX Runtime 1.30's tree operators do it (read from its
 * source and checked against it): base values, averages, post-transforms, classifier labels. It runs on
 * the main thread, over the merged scores of the workers.
 */

/** The post-processing a kernel's scores go through, as ONNX Runtime's tree operators do it. */
export interface KernelFinish {
  /** 0 regressor, 1 classifier. */
  readonly kind: number;
  /** 0 NONE, 1 LOGISTIC, 2 SOFTMAX, 3 SOFTMAX_ZERO, 4 PROBIT. */
  readonly post: number;
  readonly aggregate: number;
  readonly nTargets: number;
  readonly nTrees: number;
  readonly base: Float32Array;
  /** Classifier: only one class id has weights and there are two labels. */
  readonly binaryCase: boolean;
  readonly weightsAllPositive: boolean;
}

/**
 * Turns the scores of rows `[begin, end)` into the operator's outputs: `z` (row-major `[n, nTargets]`
 * float32) and, for classifiers, `label` (the index of the predicted class label, or -1 / -2 for the
 * literal labels 0 and 1 ONNX Runtime returns in its binary fallback).
 */
export function finishRows(
  k: KernelFinish,
  scores: Float32Array,
  has: Uint8Array,
  begin: number,
  end: number,
  z: Float32Array,
  label: Int32Array,
): void {
  const E = k.nTargets;
  const fr = Math.fround;
  const base = k.base;
  const logistic = (v: number): number => {
    const e = fr(1 / fr(1 + fr(Math.exp(-Math.abs(v)))));
    return v < 0 ? fr(1 - e) : e;
  };
  const probit = (v: number): number => {
    // ONNX Runtime's ErfInv approximation, in float32.
    const x0 = fr(fr(2 * v) - 1);
    const sgn = x0 < 0 ? -1 : 1;
    const x1 = fr(fr(1 - x0) * fr(1 + x0));
    const lg = fr(Math.log(x1));
    const a = fr(fr(2 / fr(fr(Math.PI) * fr(0.147))) + fr(0.5 * lg));
    const b = fr(fr(1 / fr(0.147)) * lg);
    const c = fr(-a + fr(Math.sqrt(fr(fr(a * a) - b))));
    return fr(fr(Math.SQRT2) * fr(sgn * fr(Math.sqrt(c))));
  };
  const transform = (out: Float64Array, n: number): void => {
    const post = k.post;
    if (post === 4) for (let j = 0; j < n; j++) out[j] = probit(out[j]!);
    else if (post === 1) for (let j = 0; j < n; j++) out[j] = logistic(out[j]!);
    else if (post === 2 || post === 3) {
      let max = -3.4028234663852886e38;
      for (let j = 0; j < n; j++) if (out[j]! > max) max = out[j]!;
      let sum = 0;
      const expNegMax = fr(Math.exp(-max));
      for (let j = 0; j < n; j++) {
        const v = out[j]!;
        // ONNX Runtime's threshold is the float 1e-7f.
        if (post === 2 || v > 1.0000000116860974e-7 || v < -1.0000000116860974e-7) {
          out[j] = fr(Math.exp(fr(v - max)));
          sum = fr(sum + out[j]!);
        } else out[j] = fr(v * expNegMax);
      }
      for (let j = 0; j < n; j++) out[j] = fr(out[j]! / sum);
    }
  };
  const row = new Float64Array(Math.max(2, E));
  const rowHas = new Uint8Array(Math.max(2, E));
  for (let r = begin; r < end; r++) {
    const o = r * E;
    if (k.kind === 0) {
      if (E === 1) {
        let s = fr(scores[r]!);
        const origin = base.length === 1 ? base[0]! : 0;
        if (k.aggregate === 1) s = fr(fr(s / k.nTrees) + origin);
        else if (k.aggregate === 0 || has[r] !== 0) s = fr(s + origin);
        else s = origin;
        z[r] = k.post === 4 ? probit(s) : s;
        continue;
      }
      // Targets no tree gave a weight to come out as 0 (ONNX Runtime reads a score without weight as 0).
      const useBase = base.length === E;
      for (let j = 0; j < E; j++) {
        let s = fr(scores[o + j]!);
        if (k.aggregate === 1) s = useBase ? fr(fr(s / k.nTrees) + base[j]!) : fr(s / k.nTrees);
        else if (useBase) s = fr(s + base[j]!);
        row[j] = has[o + j] !== 0 ? s : 0;
      }
      transform(row, E);
      for (let j = 0; j < E; j++) z[o + j] = row[j]!;
      continue;
    }
    // Classifier (the sum aggregator).
    for (let j = 0; j < E; j++) {
      row[j] = fr(scores[o + j]!);
      rowHas[j] = has[o + j]!;
    }
    if (E > 2) {
      for (let j = 0; j < base.length && j < E; j++) {
        row[j] = rowHas[j] === 0 ? base[j]! : fr(row[j]! + base[j]!);
        rowHas[j] = 1;
      }
      let best = -1;
      let bestScore = 0;
      for (let j = 0; j < E; j++) {
        if (rowHas[j] !== 0 && (best === -1 || row[j]! > bestScore)) {
          best = j;
          bestScore = row[j]!;
        }
      }
      label[r] = best;
      transform(row, E);
      for (let j = 0; j < E; j++) z[o + j] = row[j]!;
      continue;
    }
    // Two classes. Scores are read as 0 where no weight was given (`rowHas`), as ONNX Runtime does.
    let size = 2;
    let second = -1;
    if (base.length === 2) {
      if (rowHas[1] !== 0) {
        row[1] = fr(base[1]! + row[0]!);
        row[0] = -row[1]!;
      } else {
        row[1] = fr(row[1]! + base[1]!);
        row[0] = fr(row[0]! + base[0]!);
      }
    } else if (base.length === 1) {
      row[0] = fr(row[0]! + base[0]!);
      if (rowHas[1] === 0) size = 1;
    } else if (base.length === 0) {
      second = 3;
      if (rowHas[1] === 0) size = 1;
    }
    const positive = size === 2 && rowHas[1] !== 0 ? row[1]! : rowHas[0] !== 0 ? row[0]! : 0;
    if (k.binaryCase) {
      if (k.weightsAllPositive) {
        second = positive > 0.5 ? 0 : 1;
        label[r] = positive > 0.5 ? 1 : 0;
      } else {
        second = positive > 0 ? 2 : 3;
        label[r] = positive > 0 ? 1 : 0;
      }
    } else label[r] = positive > 0 ? -2 : -1;
    for (let j = 0; j < 2; j++) if (rowHas[j] === 0) row[j] = 0;
    if (size === 2) {
      transform(row, 2);
      z[o] = row[0]!;
      z[o + 1] = row[1]!;
    } else if (k.post === 1) {
      // LOGISTIC: both scores from the one score, whatever the weights' signs (as ONNX Runtime 1.30 does).
      z[o] = logistic(-row[0]!);
      z[o + 1] = logistic(row[0]!);
    } else if (second === 0 || second === 1) {
      z[o] = fr(1 - row[0]!);
      z[o + 1] = row[0]!;
    } else {
      z[o] = -row[0]!;
      z[o + 1] = row[0]!;
    }
  }
}
