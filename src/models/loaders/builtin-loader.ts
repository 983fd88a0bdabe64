import * as z from "zod";
import { type LoaderOptions, LoaderOptionsConfig } from "./loader-options.js";
import { ModelLoader } from "./model-loader.js";

/** Config of {@link BuiltinLoader}. */
export const BuiltinLoaderConfig = z
  .strictObject({ KIND: z.literal("BuiltinLoader"), ...LoaderOptionsConfig })
  .describe(
    "Loads the model as MLflow's built-in pyfunc does and wraps its raw prediction into a `prediction` column.",
  );

/**
 * The loader of MLflow's built-in flavor, as the reference's: the raw prediction (the first ONNX output)
 * is wrapped into one column named `prediction`, whatever the signature calls it; other outputs are
 * dropped.
 *
 * @example
 * ```ts
 * const model = await new BuiltinLoader().load("models:/bikes/1", mlmodel);
 * ```
 */
export class BuiltinLoader extends ModelLoader {
  /**
   * @param options - ONNX Runtime session options (they win over the model's `onnx_session_options`),
   * `featureColumns`, `forestCache`, and `probabilities` for natively run classifiers
   */
  constructor(options: LoaderOptions = {}) {
    super(options, "prediction");
  }
}
