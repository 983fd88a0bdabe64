import type { Database } from "../database.js";

/** Writes a job's outputs. One implementation per file, selected by the config's `KIND`. */
export interface Writer {
  /** The output as the user configured it (a path), for messages. */
  readonly path: string;
  /**
   * Writes the rows of a SQL query atomically: after a failure, no output file exists at `path`.
   *
   * @param query - a parenthesised SQL query
   * @returns the number of rows written
   * @throws MlbatchError `E_WRITE` naming the path, the reason and what to do
   */
  write(db: Database, query: string): Promise<number>;
}
