/**
 * What every file writer shares: the config fields `path`, `mode`, `max_rows_per_file`, and writing rows
 * with DuckDB's COPY into one file or into part files, staged for an atomic commit.
 */
import { rm } from "node:fs/promises";
import * as z from "zod";
import type { Database } from "../database.js";
import {
  checkTarget,
  type OutputShape,
  type StagedOutput,
  stage,
  WriteMode,
  writeFailure,
} from "./atomic.js";
import { ConcatenatedFile, type FileSink, PartsFolder } from "./sinks.js";
import type { RowProducer, StageOptions, WriteFileOptions, Writer } from "./writer.js";

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
  /** COPY's options for the rows of a file's later queries, appended to it (CSV: without the header). */
  readonly next?: string;
}

/**
 * A writer of one file, or of a folder of part files, through DuckDB's COPY: every file writer is one
 * of these with its {@link CopyFormat}. Rows given query by query are written as they come: text files
 * joined by concatenation (see {@link ConcatenatedFile}; Parquet overrides {@link FileWriter.fileSink}),
 * folders cut into parts as they fill.
 */
export abstract class FileWriter<C extends FileWriterConfig = FileWriterConfig> implements Writer {
  readonly path: string;
  readonly mode: WriteMode;
  readonly shape: OutputShape;

  /** @param config - the writer's config, parsed by its schema */
  constructor(protected readonly config: C) {
    this.path = config.path;
    this.mode = config.mode;
    this.shape = config.max_rows_per_file === undefined ? "file" : "folder";
  }

  /** The format of the files. */
  protected abstract get format(): CopyFormat;

  /** COPY's options for a query's rows: the format's, plus what the format records of `options`. */
  protected async copyOptions(_db: Database, _query: string, _options: StageOptions): Promise<string> {
    return this.format.copy;
  }

  /** Where one file's rows go, query by query: concatenated copies. */
  protected fileSink(db: Database, file: string, copy: (query: string) => Promise<string>): FileSink {
    return new ConcatenatedFile(db, file, copy, this.format.next ?? this.format.copy);
  }

  /** @inheritdoc */
  check(): Promise<void> {
    return checkTarget(this.path, this.config.mode, this.shape);
  }

  /** @inheritdoc */
  stageRows(db: Database, produce: RowProducer, options: StageOptions = {}): Promise<StagedOutput> {
    const copy = this.copier(db, options);
    const size = this.config.max_rows_per_file;
    return stage(
      this.path,
      this.config.mode,
      (temp) =>
        fill(
          failingAs(
            this.path,
            size === undefined
              ? this.fileSink(db, temp, copy)
              : new PartsFolder(db, temp, size, this.format.extension, copy),
            "outputs",
          ),
          produce,
        ),
      this.shape,
    );
  }

  /** @inheritdoc */
  stage(db: Database, query: string, options: StageOptions = {}): Promise<StagedOutput> {
    return this.stageRows(db, (sink) => sink.append(query).then(() => undefined), options);
  }

  /** @inheritdoc */
  async write(db: Database, query: string, options: StageOptions = {}): Promise<number> {
    const staged = await this.stage(db, query, options);
    await staged.commit();
    return staged.rows;
  }

  /** @inheritdoc */
  async writeFile(
    db: Database,
    file: string,
    produce: RowProducer,
    options: WriteFileOptions = {},
  ): Promise<number> {
    try {
      const sink = failingAs(options.part ?? file, this.fileSink(db, file, this.copier(db, options)), "part");
      return await fill(sink, produce);
    } catch (error) {
      await rm(file, { force: true });
      throw error;
    }
  }

  /** COPY's options, computed from the first query's columns, then the same for every query. */
  private copier(db: Database, options: StageOptions): (query: string) => Promise<string> {
    let copy: Promise<string> | undefined;
    return (query) => {
      copy ??= this.copyOptions(db, query, options);
      return copy;
    };
  }
}

async function fill(sink: FileSink, produce: RowProducer): Promise<number> {
  await produce(sink);
  return sink.finish();
}

/**
 * The sink with its own failures (DuckDB's COPY, the file system: a full disk, a folder where no file
 * can be made) as `E_WRITE` naming `path`: the rows are handed to it from the job's predict loop, whose
 * steps would report a foreign error as an internal one.
 */
function failingAs(path: string, sink: FileSink, what: string): FileSink {
  const fail = (error: unknown): never => {
    throw writeFailure(path, error, what);
  };
  return { append: (query) => sink.append(query).catch(fail), finish: () => sink.finish().catch(fail) };
}
