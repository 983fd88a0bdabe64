import type ort from "onnxruntime-node";
import { expect } from "vitest";
import type { WireTensor } from "../../../src/models/onnx-worker.js";

/**
 * Asserts the engine's outputs equal ONNX Runtime's (run with as many threads): labels exactly, scores
 * within 1e-6 relative (the post-transforms' exp, log and square roots are the platform's).
 */
export function expectSameOutputs(
  actual: Record<string, WireTensor>,
  expected: ort.InferenceSession.ReturnType,
  names: readonly string[],
  /**
   * PROBIT: outside (0, 1) it is NaN here and sometimes an infinity in ONNX Runtime (accept any non-finite),
   * and inside, the platform's float32 log and square root differ in the last bits (accept 1e-4 relative).
   */
  probit = false,
): void {
  for (const name of names) {
    const e = expected[name]!;
    const a = actual[name];
    expect(a, `output ${name}`).toBeDefined();
    expect(a!.type, `output ${name} type`).toBe(e.type);
    expect(a!.dims, `output ${name} dims`).toEqual(e.dims);
    if (e.type === "float32" || e.type === "float64") {
      const ev = e.data as Float32Array;
      const av = a!.data as Float32Array;
      expect(av.length).toBe(ev.length);
      let bad = -1;
      for (let i = 0; i < ev.length; i++) {
        // PROBIT's float32 log and square roots are the platform's: they differ in the last bits, amplified
        // near the ends of (0, 1).
        const tolerance = 1e-6 + 1e-6 * Math.abs(ev[i]!) + (probit ? 1e-4 * Math.abs(ev[i]!) : 0);
        const same =
          Number.isNaN(ev[i]!) || !Number.isFinite(ev[i]!)
            ? Object.is(av[i], ev[i]) || (probit && !Number.isFinite(av[i]!))
            : Math.abs(av[i]! - ev[i]!) <= tolerance;
        if (!same) {
          bad = i;
          break;
        }
      }
      expect(bad === -1 ? "equal" : `${name}[${bad}]: engine ${av[bad]} vs ONNX Runtime ${ev[bad]}`).toBe(
        "equal",
      );
    } else {
      expect(Array.from(a!.data as ArrayLike<unknown>)).toEqual(Array.from(e.data as ArrayLike<unknown>));
    }
  }
}
