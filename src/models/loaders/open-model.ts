import type { MLmodel } from "../mlmodel.js";
import type { Model } from "../model.js";
import { loadNativeModel, type NativeOptions, nativeFlavor } from "../native/index.js";
import type { OutputNaming } from "../outputs.js";
import type { SessionOptions } from "../session-options.js";

/** What a loader's config gives {@link openModel}: session options, `feature_columns`, native options. */
export type LoaderOptions = SessionOptions & NativeOptions;

/**
 * Opens a model folder with what runs it: its `onnx` flavor in ONNX Runtime or the tree engine; else a
 * flavor mlbatch runs natively (XGBoost, LightGBM, scikit-learn from skops) in the tree engine. A folder
 * with neither is refused by the ONNX loader, which names its flavors and what to do.
 *
 * @param naming - how ONNX outputs are named (`signature` or `prediction`)
 * @throws MlbatchError `E_MODEL_LOAD`, `E_CONFIG` or `E_SCHEMA` as the loaders document
 */
export async function openModel(
  uri: string,
  mlmodel: MLmodel,
  naming: OutputNaming,
  options: LoaderOptions,
  tableColumns: readonly string[] | undefined,
): Promise<Model> {
  if (mlmodel.onnx === undefined && nativeFlavor(mlmodel) !== undefined) {
    return loadNativeModel(uri, mlmodel, options, tableColumns);
  }
  const { feature_columns: featureColumns, probabilities: _, ...session } = options;
  const { OnnxModel } = await import("../onnx-model.js");
  return OnnxModel.create(uri, mlmodel, naming, session, { featureColumns, tableColumns });
}
