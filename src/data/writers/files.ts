/**
 * What every file writer shares: the config fields `path`, `mode`, `max_rows_per_file`, and writing a
 * query with DuckDB's COPY into one file or into part files, staged for an atomic commit.
 */
import { join } from "node:path";
import * as z from "zod";
import type { Database } from "../database.js";
import { quotedIdentifier, quotedString } from "../sql.js";
import { checkTarget, type OutputShape, type StagedOutput, stage, WriteMode } from "./atomic.js";
import type { StageOptions, Writer } from "./writer.js";

/** The config fields every file writer has. */
export const FILE_WRITER_FIELDS = {
  path: z
    .string()
    .min(1)
    .describe(
      "File to write (a folder of part files with max_rows_per_file), relative to the working " +
        "directory; its folder is created.",
    ),
  mode: WriteMode.default("error").describe(
    "When the output exists: `error` refuses and leaves it untouched, `overwrite` replaces it " +
      "(only a file, or a folder of parts mlbatch wrote: never anything else).",
  ),
  max_rows_per_file: z
    .int()
    .positive()
    .optional()
    .describe(
      "Write a folder of part files (part-00000.<ext>, ...) of at most this many rows each, with a " +
        "_SUCCESS marker; the folder path is a link to the parts, replaced in one step on overwrite.",
    ),
} as const;

/** The common fields of a file writer's config, as its schema gives them (defaults applied). */
export interface FileWriterConfig {
  readonly path: string;
  readonly mode: WriteMode;
  readonly max_rows_per_file?: number | undefined;
}

/** How a file writer's format is written by DuckDB's COPY. */
export interface CopyFormat {
  /** The part files' extension, e.g. `.parquet`. */
  readonly extension: string;
  /** COPY's options, e.g. `FORMAT parquet, COMPRESSION snappy`. */
  readonly copy: string;
}

/**
 * A writer of one file, or of a folder of part files, through DuckDB's COPY: every file writer is one
 * of these with its {@link CopyFormat}.
 */
export abstract class FileWriter implements Writer {
  readonly path: string;
  readonly shape: OutputShape;

  /** @param file - the config's common fields: path, mode, max_rows_per_file */
  constructor(private readonly file: FileWriterConfig) {
    this.path = file.path;
    this.shape = file.max_rows_per_file === undefined ? "file" : "folder";
  }

  /** The format of the files. */
  protected abstract get format(): CopyFormat;

  /** COPY's options for a query's rows: the format's, plus what the format records of `options`. */
  protected async copyOptions(_db: Database, _query: string, _options: StageOptions): Promise<string> {
    return this.format.copy;
  }

  /** @inheritdoc */
  check(): Promise<void> {
    return checkTarget(this.path, this.file.mode, this.shape);
  }

  /** @inheritdoc */
  async stage(db: Database, query: string, options: StageOptions = {}): Promise<StagedOutput> {
    const copy = await this.copyOptions(db, query, options);
    return stageCopy(db, query, { ...this.file, ...this.format, copy });
  }

  /** @inheritdoc */
  async write(db: Database, query: string, options: StageOptions = {}): Promise<number> {
    const staged = await this.stage(db, query, options);
    await staged.commit();
    return staged.rows;
  }
}

/**
 * Writes the rows of `query` with `COPY ... TO ... (<copy>)` to a temporary file, or, with
 * `maxRowsPerFile`, to a temporary folder of part files named `part-00000<extension>`, ... in row order
 * (at least one part, so an empty output still has its columns).
 */
export async function stageCopy(
  db: Database,
  query: string,
  options: FileWriterConfig & CopyFormat,
): Promise<StagedOutput> {
  const { path, mode, max_rows_per_file: maxRowsPerFile, extension, copy } = options;
  if (maxRowsPerFile === undefined) {
    return stage(path, mode, async (temp) => {
      const rows = await db.rows(`COPY ${query} TO ${quotedString(temp)} (${copy})`);
      return Number(rows[0]?.Count ?? 0);
    });
  }
  return stage(
    path,
    mode,
    async (temp) => {
      // Materialized once, then cut by rowid (insertion order): each part is a cheap range scan.
      const table = quotedIdentifier(`__mlbatch_out_${process.pid}_${Date.now()}`);
      await db.run(`CREATE TEMP TABLE ${table} AS SELECT * FROM ${query}`);
      try {
        const [count] = await db.rows(`SELECT count(*) AS n FROM ${table}`);
        const total = Number(count?.n ?? 0);
        for (let part = 0, from = 0; part === 0 || from < total; part++, from += maxRowsPerFile) {
          const file = join(temp, `part-${String(part).padStart(5, "0")}${extension}`);
          await db.run(
            `COPY (SELECT * FROM ${table} WHERE rowid >= ${from} AND rowid < ${from + maxRowsPerFile}) TO ${quotedString(file)} (${copy})`,
          );
        }
        return total;
      } finally {
        await db.run(`DROP TABLE IF EXISTS ${table}`);
      }
    },
    "folder",
  );
}
