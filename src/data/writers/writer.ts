import type { Database } from "../database.js";
import type { OutputShape, StagedOutput } from "./atomic.js";

/** Writes a job's outputs. One implementation per file, selected by the config's `KIND`. */
export interface Writer {
  /** The output as the user configured it (a path), for messages. */
  readonly path: string;
  /** One file, or a folder of part files. */
  readonly shape: OutputShape;
  /**
   * Checks, before any work, that the output may be written (mode `error`: it must not exist yet).
   *
   * @throws MlbatchError `E_WRITE` naming the path, the reason and what to do
   */
  check(): Promise<void>;
  /**
   * Writes the rows of a SQL query under a temporary name; the output appears at `path` only on
   * `commit()`, so several outputs can be made visible together at the end of a job.
   *
   * @param query - a parenthesised SQL query
   * @throws MlbatchError `E_WRITE` naming the path, the reason and what to do; nothing is left behind
   */
  stage(db: Database, query: string): Promise<StagedOutput>;
  /**
   * Writes the rows of a SQL query atomically (stage, then commit): after a failure, nothing new is
   * visible at `path`.
   *
   * @param query - a parenthesised SQL query
   * @returns the number of rows written
   * @throws MlbatchError `E_WRITE` naming the path, the reason and what to do
   */
  write(db: Database, query: string): Promise<number>;
}
