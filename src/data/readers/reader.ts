import type { Database } from "../database.js";
import type { Source } from "../source.js";

/** Reads a job's input data. One implementation per file, selected by the config's `KIND`. */
export interface Reader {
  /** The input as the user configured it (a path), for messages. */
  readonly path: string;
  /**
   * Checks the input exists and is readable, and describes it.
   *
   * @throws MlbatchError `E_READ` naming the path, the reason and what to do
   */
  open(db: Database): Promise<Source>;
}
