import type { Database } from "../database.js";
import type { Source } from "../source.js";

/** Rows of one input file: the pieces a sharded run cuts its input into. */
export interface InputUnit {
  readonly file: string;
  /** The Parquet row group, or null for the whole file. */
  readonly rowGroup: number | null;
  /** The unit's rows are `[firstRow, firstRow + rows)` of the file. */
  readonly firstRow: number;
  readonly rows: number;
}

/** An input cut into units: its files in read order, each with its units in file order. */
export interface InputCut {
  /** The path is a folder (its Hive partitions are read as columns). */
  readonly folder: boolean;
  readonly files: readonly { readonly path: string; readonly units: readonly InputUnit[] }[];
}

/** How a reader opens its input. */
export interface OpenOptions {
  /**
   * The rows will be read by queries of the caller's own (a drift profile, a quarantine), not only by
   * the source's batches and passes: files on an object store are then downloaded whole, not read row
   * group by row group. Default: false.
   */
  readonly wholeFiles?: boolean | undefined;
}

/** Reads a job's input data. One implementation per file, selected by the config's `KIND`. */
export interface Reader {
  /** The input as the user configured it (a path), for messages. */
  readonly path: string;
  /**
   * Checks the input exists and is readable, and describes it.
   *
   * @throws MlbatchError `E_READ` naming the path, the reason and what to do
   */
  open(db: Database, options?: OpenOptions): Promise<Source>;
  /**
   * Describes the input (its columns and id columns) reading as little of it as the format allows: a
   * Parquet object's footer, fetched by range, not the object. The source it gives is for its schema
   * only: its rows may not be there to read (a plan, which cuts the input by its metadata, needs none).
   *
   * @throws MlbatchError `E_READ` naming the path, the reason and what to do
   */
  describe(db: Database): Promise<Source>;
  /**
   * Lists the input's files, in the order {@link Reader.open} reads them, and cuts each into units:
   * Parquet files by row group (a file without row groups is one empty unit), other formats whole.
   *
   * @throws MlbatchError `E_READ` when the input cannot be listed or read
   */
  cut(db: Database): Promise<InputCut>;
  /**
   * Opens one unit as a source with the columns the whole input has (the Hive partition columns of a
   * folder too).
   *
   * @param folder - the input path is a folder (as {@link Reader.cut} found it)
   * @throws MlbatchError `E_READ`
   */
  openUnit(db: Database, unit: InputUnit, folder: boolean): Promise<Source>;
}
