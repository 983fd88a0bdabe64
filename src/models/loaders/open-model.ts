import type { DebugLog } from "../debug-log.js";
import type { MLmodel } from "../mlmodel.js";
import type { Model } from "../model.js";
import { loadNativeModel, nativeFlavor } from "../native/index.js";
import type { OutputNaming } from "../outputs.js";
import type { LoaderOptions } from "./loader-options.js";
import { modelOptions } from "./model-options.js";

/**
 * Opens a model folder with what runs it: its `onnx` flavor in ONNX Runtime or the tree engine; else a
 * flavor mlbatch runs natively (scikit-learn from skops, XGBoost, LightGBM) in the tree engine. A folder
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
  log: DebugLog | undefined,
): Promise<Model> {
  if (mlmodel.onnx === undefined && nativeFlavor(mlmodel) !== undefined) {
    return loadNativeModel(uri, mlmodel, options, tableColumns);
  }
  const { session, feeds, context } = modelOptions(options, tableColumns, log);
  // ONNX Runtime's native module loads only when a model needs it.
  const { OnnxModel } = await import("../onnx-model.js");
  return OnnxModel.create(uri, mlmodel, naming, session, feeds, context);
}
