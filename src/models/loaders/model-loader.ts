import type { DebugLog } from "../debug-log.js";
import type { MLmodel } from "../mlmodel.js";
import type { Model } from "../model.js";
import type { OutputNaming } from "../outputs.js";
import { HeadStart } from "./head-start.js";
import type { Loader } from "./loader.js";
import type { LoaderOptions } from "./loader-options.js";
import { openModel } from "./open-model.js";

/**
 * What the loaders share: a model opened by {@link openModel} with the loader's options and its naming of
 * the outputs, and the pyfunc zygote it may start ahead ({@link HeadStart}). The loaders differ only in
 * the naming.
 */
export abstract class ModelLoader implements Loader {
  private readonly head: HeadStart;

  /**
   * @param options - ONNX Runtime session options (they win over the model's `onnx_session_options`),
   * `featureColumns`, `forestCache`, `probabilities` for natively run classifiers, and the pyfunc tier's
   * @param naming - how the outputs are named (`signature`, or `prediction`: the first only)
   */
  protected constructor(
    private readonly options: LoaderOptions,
    private readonly naming: OutputNaming,
  ) {
    this.head = new HeadStart(options);
  }

  /** @inheritdoc */
  load(uri: string, mlmodel: MLmodel, tableColumns?: readonly string[], log?: DebugLog): Promise<Model> {
    return openModel(uri, mlmodel, this.naming, this.options, tableColumns, log, this.head);
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
