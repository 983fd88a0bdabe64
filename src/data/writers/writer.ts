import type { Database } from "../database.js";
import type { OutputShape, StagedOutput, WriteMode } from "./atomic.js";

/** What a writer may record besides the rows. */
export interface StageOptions {
  /**
   * Columns that were the input's pandas index: a Parquet writer records them as the frame's index in
   * the file's pandas metadata, so pandas reads the outputs back indexed as the inputs (other formats
   * have no such metadata).
   */
  readonly pandasIndex?: readonly string[] | undefined;
  /** Key-value metadata of the file, where the format has it (Parquet), e.g. a sharded run's stamp. */
  readonly metadata?: Readonly<Record<string, string>> | undefined;
}

/** What {@link Writer.writeFile} records, and what its messages name. */
export interface WriteFileOptions extends StageOptions {
  /** Where the file will be placed (a sharded run's part): what a failure names instead of `file`. */
  readonly part?: string | undefined;
}

/**
 * Where rows go as they come: each query's rows are written after those before, all with the columns
 * of the first query.
 */
export interface RowSink {
  /**
   * Writes the rows of `query` (a parenthesised SQL query) after the rows written so far.
   *
   * @returns how many rows it held
   */
  append(query: string): Promise<number>;
}

/** Fills a {@link RowSink}: appends the output's queries in order, at least one. */
export type RowProducer = (sink: RowSink) => Promise<void>;

/** Writes a job's outputs. One implementation per file, selected by the config's `KIND`. */
export interface Writer {
  /** The output as the user configured it (a path), for messages. */
  readonly path: string;
  /** What to do with an existing output: refuse it (`error`) or replace it (`overwrite`). */
  readonly mode: WriteMode;
  /** One file, or a folder of part files. */
  readonly shape: OutputShape;
  /**
   * Checks, before any work, that the output may be written (mode `error`: it must not exist yet).
   *
   * @throws MlbatchError `E_WRITE` naming the path, the reason and what to do
   */
  check(): Promise<void>;
  /**
   * Writes the rows `produce` appends, query after query, under a temporary name (each query's rows are
   * written as they come: nothing holds the whole output); the output appears at `path` only on
   * `commit()`, so several outputs can be made visible together at the end of a job.
   *
   * @param options - what to record besides the rows (the pandas index)
   * @throws MlbatchError `E_WRITE` naming the path, the reason and what to do; the error `produce` throws;
   *   nothing is left behind
   * @example
   * ```ts
   * const staged = await writer.stageRows(db, async (sink) => {
   *   for (const segment of segments) await sink.append(segment);
   * });
   * await staged.commit();
   * ```
   */
  stageRows(db: Database, produce: RowProducer, options?: StageOptions): Promise<StagedOutput>;
  /**
   * Writes the rows of a SQL query under a temporary name; the output appears at `path` only on
   * `commit()` (see {@link Writer.stageRows}).
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
  /**
   * Writes the rows `produce` appends into the one file `file`, in this writer's format, neither staged
   * nor placed: the caller places it (a part of a sharded run). On failure the file is removed.
   *
   * @param options - what to record besides the rows (the file's key-value metadata); `part`, the path
   *   the file becomes, for messages
   * @returns the rows written
   * @throws MlbatchError `E_WRITE` naming the part (else `file`) when the file cannot be written; the
   *   error of `produce`
   */
  writeFile(db: Database, file: string, produce: RowProducer, options?: WriteFileOptions): Promise<number>;
}
