import type { MLmodel } from "../mlmodel.js";
import type { Model } from "../model.js";

/** Loads a registered model's files into a {@link Model}. One implementation per file, by `KIND`. */
export interface Loader {
  /**
   * @param uri - the model URI, for messages
   * @param mlmodel - the model folder's MLmodel
   * @throws MlbatchError `E_MODEL_LOAD`
   */
  load(uri: string, mlmodel: MLmodel): Promise<Model>;
}
