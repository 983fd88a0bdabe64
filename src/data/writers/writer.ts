import type { Database } from "../database.js";
import type { OutputShape, StagedOutput } from "./atomic.js";

/** What a writer may record besides the rows. */
export interface StageOptions {
  /**
   * Columns that were the input's pandas index: a Parquet writer records them as the frame's index in
   * the file's pandas metadata, so pandas reads the outputs back indexed as the inputs (other formats
   * have no such metadata).
   */
  readonly pandasIndex?: readonly string[] | undefined;
}

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
   * @param options - what to record besides the rows (the pandas index)
   * @throws MlbatchError `E_WRITE` naming the path, the reason and what to do; nothing is left behind
   */
  stage(db: Database, query: string, options?: StageOptions): Promise<StagedOutput>;
  /**
   * Writes the rows of a SQL query atomically (stage, then commit): after a failure, nothing new is
   * visible at `path`.
   *
   * @param query - a parenthesised SQL query
   * @param options - what to record besides the rows (the pandas index)
   * @returns the number of rows written
   * @throws MlbatchError `E_WRITE` naming the path, the reason and what to do
   */
  write(db: Database, query: string, options?: StageOptions): Promise<number>;
}
