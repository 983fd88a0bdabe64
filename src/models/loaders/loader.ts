import type { DebugLog } from "../debug-log.js";
import type { MLmodel } from "../mlmodel.js";
import type { Model } from "../model.js";

/** Loads a registered model's files into a {@link Model}. One implementation per file, by `KIND`. */
export interface Loader {
  /**
   * @param uri - the model URI, for messages
   * @param mlmodel - the model folder's MLmodel
   * @param tableColumns - the input table's columns that may feed the model, in order (its id columns
   * left out): what feeds a model whose signature names no columns, when nothing else names them
   * @param log - where to say, at debug level, what loading did (e.g. the job's logger)
   * @throws MlbatchError `E_MODEL_LOAD`; `E_CONFIG` or `E_SCHEMA` when the columns named to feed a model
   * without column signature do not fit it
   */
  load(uri: string, mlmodel: MLmodel, tableColumns?: readonly string[], log?: DebugLog): Promise<Model>;
  /**
   * Starts ahead, as a job starts, what its loads will need whatever the model: with `pyfunc: always` and
   * `env_manager: local`, the pyfunc workers' zygote, which imports mlflow (seconds) while the job resolves
   * the model and opens its inputs; nothing otherwise. The next pyfunc load takes it. The caller calls
   * {@link Loader.release} once its loads are done, or failed.
   */
  prestart?(): void;
  /** Stops what {@link Loader.prestart} started and no load took; waits until it has. */
  release?(): Promise<void>;
}
