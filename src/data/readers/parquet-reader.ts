import { stat } from "node:fs/promises";
import * as z from "zod";
import { MlbatchError, messageOf } from "../../errors.js";
import type { Database } from "../database.js";
import { Source } from "../source.js";
import { quotedString } from "../sql.js";
import type { Reader } from "./reader.js";

/** Config of {@link ParquetReader}. */
export const ParquetReaderConfig = z
  .strictObject({
    KIND: z.literal("ParquetReader"),
    path: z.string().min(1).describe("Parquet file to read, relative to the working directory."),
    limit: z.int().positive().optional().describe("Read only the first `limit` rows."),
  })
  .describe("Reads a Parquet file (as written by pandas, pyarrow, Spark or DuckDB).");
export type ParquetReaderConfig = z.infer<typeof ParquetReaderConfig>;

/**
 * Reads a Parquet file with DuckDB, streamed chunk by chunk. Columns pandas stored as the frame's index
 * (e.g. `instant` in the bikes data) are reported as id columns, so they are passed to the outputs as
 * the reference's pandas index is.
 *
 * @example
 * ```ts
 * const source = await new ParquetReader({ path: "data/inputs_test.parquet" }).open(db);
 * ```
 */
export class ParquetReader implements Reader {
  readonly path: string;
  private readonly limit: number | undefined;

  /** @param options - `path` of the file; `limit` to read only the first rows */
  constructor(options: { path: string; limit?: number | undefined }) {
    this.path = options.path;
    this.limit = options.limit;
  }

  /** @inheritdoc */
  async open(db: Database): Promise<Source> {
    await checkFile(this.path);
    const from = `read_parquet(${quotedString(this.path)})`;
    let idColumns: string[];
    try {
      idColumns = await pandasIndexColumns(db, this.path);
    } catch (error) {
      throw new MlbatchError(
        "E_READ",
        `cannot read inputs "${this.path}": not a readable Parquet file (${messageOf(error)}). ` +
          "Check that inputs.path names a Parquet file and that it was written completely.",
        { cause: error },
      );
    }
    return Source.open(db, { from, label: this.path, limit: this.limit, idColumns });
  }
}

async function checkFile(path: string): Promise<void> {
  try {
    const info = await stat(path);
    if (!info.isFile()) throw new Error("it is not a file");
  } catch (error) {
    const reason = (error as NodeJS.ErrnoException).code === "ENOENT" ? "no such file" : messageOf(error);
    throw new MlbatchError(
      "E_READ",
      `cannot read inputs "${path}": ${reason} (working directory: ${process.cwd()}). ` +
        "Check inputs.path: relative paths are relative to the working directory.",
      { cause: error },
    );
  }
}

/** The columns pandas wrote as the frame's index (RangeIndex entries are not columns and are skipped). */
async function pandasIndexColumns(db: Database, path: string): Promise<string[]> {
  const rows = await db.rows(
    `SELECT decode(value) AS value FROM parquet_kv_metadata(${quotedString(path)}) WHERE decode(key) = 'pandas'`,
  );
  const text = rows[0]?.value;
  if (typeof text !== "string") return [];
  const meta = JSON.parse(text) as { index_columns?: unknown[] };
  return (meta.index_columns ?? []).filter((c): c is string => typeof c === "string");
}
