import { isMlbatchError, MlbatchError } from "../../errors.js";
import type { DebugLog } from "../debug-log.js";
import type { MLmodel } from "../mlmodel.js";
import type { Model } from "../model.js";
import { nativeFlavor } from "../native/flavor.js";
import type { OutputNaming } from "../outputs.js";
import { PYFUNC_DEFAULTS } from "../pyfunc/options.js";
import type { HeadStart } from "./head-start.js";
import type { LoaderOptions } from "./loader-options.js";
import { modelOptions } from "./model-options.js";

/**
 * Opens a model folder with what runs it, as the loader's `pyfunc` says. `never`: its `onnx` flavor in
 * ONNX Runtime or the tree engine; else a flavor mlbatch runs natively (scikit-learn from skops, XGBoost,
 * LightGBM) in the tree engine; a folder with neither is refused by the ONNX loader, which names its
 * flavors and what to do. `always`: MLflow's pyfunc in Python workers. `auto` (the default): natively when
 * mlbatch can, else pyfunc, the engine's description saying why; when pyfunc cannot run it either (no
 * Python with mlflow, say), the error says both why not natively and why not in Python.
 *
 * @param naming - how ONNX outputs are named (`signature` or `prediction`)
 * @param head - the loader's zygote started ahead, which a pyfunc load takes
 * @throws MlbatchError `E_MODEL_LOAD`, `E_CONFIG` or `E_SCHEMA` as the loaders document
 */
export async function openModel(
  uri: string,
  mlmodel: MLmodel,
  naming: OutputNaming,
  options: LoaderOptions,
  tableColumns: readonly string[] | undefined,
  log: DebugLog | undefined,
  head?: HeadStart | undefined,
): Promise<Model> {
  const mode = options.pyfunc ?? PYFUNC_DEFAULTS.pyfunc;
  // The pyfunc tier (and Apache Arrow's 146 modules) loads only when a model goes to it; a zygote started
  // ahead is taken first, so that it is stopped whatever fails.
  const pyfunc = async (why: string) => {
    const early = await head?.take();
    try {
      const { loadPyfuncModel } = await import("../pyfunc/index.js");
      return await loadPyfuncModel(
        uri,
        mlmodel,
        naming,
        options,
        tableColumns,
        why,
        options.featureColumns,
        early,
      );
    } catch (error) {
      // Not loaded into (the tier's modules, or the model, failed): stopped (one that failed is gone already).
      await early?.stop();
      throw error;
    }
  };
  if (mode === "always") return pyfunc("loader.pyfunc is always");
  const flavor = mlmodel.onnx === undefined ? nativeFlavor(mlmodel) : undefined;
  if (flavor !== undefined) {
    // The native readers load only for a model of their flavor.
    const { loadNativeModel } = await import("../native/index.js");
    if (mode === "never" || mlmodel.pyfunc === undefined) {
      return loadNativeModel(uri, mlmodel, options, tableColumns);
    }
    try {
      return await loadNativeModel(uri, mlmodel, options, tableColumns);
    } catch (error) {
      // Only what mlbatch cannot run goes to Python; a config or schema mistake stays the user's to fix.
      if (!isMlbatchError(error, "E_MODEL_LOAD")) throw error;
      return pyfunc(`auto: not native, ${firstSentence(error)}`).catch((python: unknown) => {
        throw notEither(uri, error, python);
      });
    }
  }
  if (mlmodel.onnx === undefined && mode === "auto") {
    const kind = (await import("../pyfunc/index.js")).pyfuncKind(mlmodel);
    if (kind === undefined) {
      throw new MlbatchError(
        "E_MODEL_LOAD",
        `model ${uri} has no flavor mlbatch runs natively and no python_function flavor (flavors: ${mlmodel.flavors.join(", ") || "none"}): neither mlbatch nor MLflow's pyfunc can load it. ` +
          "Log it with mlflow.pyfunc.log_model or an MLflow flavor.",
      );
    }
    const native = `${kind} has no flavor mlbatch runs natively (flavors: ${mlmodel.flavors.join(", ")})`;
    return pyfunc(`auto: ${native}`).catch((python: unknown) => {
      throw notEither(uri, new MlbatchError("E_MODEL_LOAD", `model ${uri}: ${native}.`), python);
    });
  }
  const { session, feeds, context } = modelOptions(options, tableColumns, log);
  // ONNX Runtime's native module loads only when a model needs it.
  const { OnnxModel } = await import("../onnx-model.js");
  return OnnxModel.create(uri, mlmodel, naming, session, feeds, context);
}

/**
 * The error of a model that auto could run neither natively nor in Python: both reasons, the native one
 * first (it says how to log the model so that no Python is needed). Other failures pass unchanged.
 */
function notEither(uri: string, native: MlbatchError, python: unknown): unknown {
  if (!isMlbatchError(python, "E_MODEL_LOAD")) return python;
  const tail = (error: MlbatchError) =>
    error.message.replace(new RegExp(`^model ${regexpQuoted(uri)}:? `), "");
  return new MlbatchError(
    "E_MODEL_LOAD",
    `model ${uri} runs neither natively nor in Python (loader.pyfunc auto). Natively: ${tail(native)} ` +
      `In Python: ${tail(python)}`,
    { cause: python },
  );
}

function regexpQuoted(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

/** An error's first sentence, for the engine's description. */
function firstSentence(error: MlbatchError): string {
  const text = error.message.replace(/^model \S+ (is )?/, "");
  return (text.split(/(?<=[.:]) /)[0] ?? text).replace(/[.:]$/, "");
}
