import * as z from "zod";
import type { DebugLog } from "../debug-log.js";
import type { MLmodel } from "../mlmodel.js";
import type { Model } from "../model.js";
import { HeadStart } from "./head-start.js";
import type { Loader } from "./loader.js";
import { type LoaderOptions, LoaderOptionsConfig } from "./loader-options.js";
import { openModel } from "./open-model.js";

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
export class BuiltinLoader implements Loader {
  /**
   * @param options - ONNX Runtime session options (they win over the model's `onnx_session_options`),
   * `featureColumns`, `forestCache`, and `probabilities` for natively run classifiers
   */
  constructor(private readonly options: LoaderOptions = {}) {
    this.head = new HeadStart(options);
  }

  private readonly head: HeadStart;

  /** @inheritdoc */
  load(uri: string, mlmodel: MLmodel, tableColumns?: readonly string[], log?: DebugLog): Promise<Model> {
    return openModel(uri, mlmodel, "prediction", this.options, tableColumns, log, this.head);
  }

  /** @inheritdoc */
  prestart(): void {
    this.head.start();
  }

  /** @inheritdoc */
  release(): Promise<void> {
    return this.head.stop();
  }
}
