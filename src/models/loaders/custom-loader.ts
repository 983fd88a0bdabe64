import * as z from "zod";
import { type LoaderOptions, LoaderOptionsConfig } from "./loader-options.js";
import { ModelLoader } from "./model-loader.js";

/** Config of {@link CustomLoader}. */
export const CustomLoaderConfig = z
  .strictObject({ KIND: z.literal("CustomLoader"), ...LoaderOptionsConfig })
  .describe("Loads the model and returns its outputs as named by its MLflow signature (the default).");

/**
 * The default loader, as the reference's: the model's outputs come out named as its signature names them
 * (for the bikes model, `prediction`); a model without output signature keeps its ONNX output names, and
 * outputs of shape [n, k] become k columns `<name>_0` ... `<name>_<k-1>`.
 *
 * @example
 * ```ts
 * const model = await new CustomLoader().load("models:/bikes@Champion", mlmodel);
 * ```
 */
export class CustomLoader extends ModelLoader {
  /**
   * @param options - ONNX Runtime session options (they win over the model's `onnx_session_options`),
   * `featureColumns`, `forestCache`, and `probabilities` for natively run classifiers
   */
  constructor(options: LoaderOptions = {}) {
    super(options, "signature");
  }
}
