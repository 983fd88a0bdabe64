/**
 * Which flavor of a model folder mlbatch runs natively: a look at its MLmodel only, so that callers can
 * decide before the readers (and the engine) load.
 */
import type { MLmodel } from "../mlmodel.js";

/** A flavor mlbatch runs natively. */
export type NativeFlavor = "xgboost" | "lightgbm" | "sklearn";

/**
 * Which flavor of a model folder mlbatch runs natively: `xgboost`, `lightgbm` (a Booster's `model.lgb`,
 * or a scikit-learn API estimator stored whole as skops; one pickled is refused by its loader, with what
 * to do), or `sklearn`;
 * undefined when none (an ONNX-only model, or a flavor mlbatch does not run).
 *
 * @param mlmodel - the model folder's MLmodel
 * @returns the flavor to hand to {@link loadNativeModel}, or undefined
 */
export function nativeFlavor(mlmodel: MLmodel): NativeFlavor | undefined {
  if (mlmodel.xgboost !== undefined) return "xgboost";
  if (mlmodel.lightgbm !== undefined) return "lightgbm";
  if (mlmodel.sklearn !== undefined) return "sklearn";
  return undefined;
}
