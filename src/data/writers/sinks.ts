/**
 * Where a writer puts rows that come query by query (see {@link RowSink}): one file (text formats joined
 * by concatenation, Parquet in parquet-file.ts), or a folder of part files of a fixed size. Each query's
 * rows are written by DuckDB as they come, so nothing holds the whole output.
 */
import { appendFile, readFile, rm } from "node:fs/promises";
import { join } from "node:path";
import { scratchPath, track } from "../../scratch.js";
import type { Database } from "../database.js";
import { quotedIdentifier, quotedString } from "../sql.js";
import type { RowSink } from "./writer.js";

/** A sink that completes its output once every query is in. */
export interface FileSink extends RowSink {
  /**
   * Completes the output (a Parquet file's footer, the last part of a folder).
   *
   * @returns the rows written
   */
  finish(): Promise<number>;
}

/**
 * A CSV or JSON Lines file (gzip- or zstd-compressed or not) from queries appended in order: the first
 * query is copied to the file; each later one to a scratch file beside it (with `next`: CSV without its
 * header), whose bytes are appended. Text lines concatenate, and so do gzip members and zstd frames.
 */
export class ConcatenatedFile implements FileSink {
  private rows = 0;
  private started = false;

  /**
   * @param copy - COPY's options for the first query's rows
   * @param next - COPY's options for the later ones'
   */
  constructor(
    private readonly db: Database,
    private readonly file: string,
    private readonly copy: (query: string) => Promise<string>,
    private readonly next: string,
  ) {}

  /** @inheritdoc */
  async append(query: string): Promise<number> {
    if (!this.started) {
      this.started = true;
      return this.count(
        await this.db.rows(`COPY ${query} TO ${quotedString(this.file)} (${await this.copy(query)})`),
      );
    }
    const segment = scratchPath(this.file, "tmp");
    const forget = track(segment);
    try {
      const rows = this.count(await this.db.rows(`COPY ${query} TO ${quotedString(segment)} (${this.next})`));
      await appendFile(this.file, await readFile(segment));
      return rows;
    } finally {
      await rm(segment, { force: true });
      forget();
    }
  }

  /** @inheritdoc */
  async finish(): Promise<number> {
    return this.rows;
  }

  private count(result: Record<string, unknown>[]): number {
    const rows = Number(result[0]?.Count ?? 0);
    this.rows += rows;
    return rows;
  }
}

/**
 * A folder of part files `part-00000<extension>`, ... of `size` rows each (the last one shorter, at least
 * one part), in row order, from queries appended in order. Rows wait in a DuckDB table until a part is
 * full; then it is written, and the table keeps only the rows after it.
 */
export class PartsFolder implements FileSink {
  private rows = 0;
  private parts = 0;
  /** Rows in the table that no part holds yet. */
  private buffered = 0;
  private table: string | undefined;
  private options: string | undefined;

  /**
   * @param copy - COPY's options for a part's rows
   */
  constructor(
    private readonly db: Database,
    private readonly folder: string,
    private readonly size: number,
    private readonly extension: string,
    private readonly copy: (query: string) => Promise<string>,
  ) {}

  /** @inheritdoc */
  async append(query: string): Promise<number> {
    this.options ??= await this.copy(query);
    if (this.table === undefined) {
      this.table = quotedIdentifier(`__mlbatch_parts_${process.pid}_${Date.now()}`);
      await this.db.run(`CREATE TEMP TABLE ${this.table} AS SELECT * FROM ${query} LIMIT 0`);
    }
    const [inserted] = await this.db.rows(`INSERT INTO ${this.table} SELECT * FROM ${query}`);
    const rows = Number(inserted?.Count ?? 0);
    this.rows += rows;
    this.buffered += rows;
    if (this.buffered >= this.size) await this.flush(this.table);
    return rows;
  }

  /** @inheritdoc */
  async finish(): Promise<number> {
    const table = this.table;
    if (table === undefined) return this.rows;
    try {
      // The rest, or an empty part: an empty output keeps its columns.
      if (this.buffered > 0 || this.parts === 0) await this.part(`(SELECT * FROM ${table})`);
    } finally {
      await this.db.run(`DROP TABLE IF EXISTS ${table}`);
    }
    return this.rows;
  }

  /** Writes every full part the table holds (cut by rowid: insertion order), then keeps only the rest. */
  private async flush(table: string): Promise<void> {
    let from = 0;
    for (; this.buffered >= this.size; from += this.size, this.buffered -= this.size) {
      await this.part(`(SELECT * FROM ${table} WHERE rowid >= ${from} AND rowid < ${from + this.size})`);
    }
    const rest = quotedIdentifier(`__mlbatch_rest_${process.pid}_${Date.now()}`);
    await this.db.run(`CREATE TEMP TABLE ${rest} AS SELECT * FROM ${table} WHERE rowid >= ${from}`);
    await this.db.run(`DROP TABLE ${table}`);
    await this.db.run(`ALTER TABLE ${rest} RENAME TO ${table}`);
  }

  private async part(query: string): Promise<void> {
    const file = join(this.folder, `part-${String(this.parts).padStart(5, "0")}${this.extension}`);
    await this.db.run(`COPY ${query} TO ${quotedString(file)} (${this.options})`);
    this.parts++;
  }
}
