import * as z from "zod";
import type { Database } from "../database.js";
import { checkTarget, type StagedOutput } from "./atomic.js";
import { FILE_WRITER_FIELDS, type FileWriterOptions, stageCopy } from "./files.js";
import type { Writer } from "./writer.js";

/** Config of {@link JsonLinesWriter}. */
export const JsonLinesWriterConfig = z
  .strictObject({
    KIND: z.literal("JsonLinesWriter"),
    ...FILE_WRITER_FIELDS,
  })
  .describe("Writes JSON Lines: one JSON object per row and line, null as null.");
export type JsonLinesWriterConfig = z.infer<typeof JsonLinesWriterConfig>;

/**
 * Writes JSON Lines with DuckDB, atomically: one object per row, keys in column order. A `float32` value is
 * written as the exact decimal of its double, so it reads back to the same `float32`.
 *
 * @example
 * ```ts
 * await new JsonLinesWriter({ path: "outputs/predictions.jsonl" }).write(db, "(SELECT 1 AS x)");
 * ```
 */
export class JsonLinesWriter implements Writer {
  readonly path: string;

  /** @param options - `path`; `mode` (default `error`); `maxRowsPerFile` */
  constructor(private readonly options: FileWriterOptions) {
    this.path = options.path;
  }

  /** @inheritdoc */
  check(): Promise<void> {
    return checkTarget(this.path, this.options.mode ?? "error");
  }

  /** @inheritdoc */
  stage(db: Database, query: string): Promise<StagedOutput> {
    return stageCopy(db, query, { ...this.options, extension: ".jsonl", copy: "FORMAT json" });
  }

  /** @inheritdoc */
  async write(db: Database, query: string): Promise<number> {
    const staged = await this.stage(db, query);
    await staged.commit();
    return staged.rows;
  }
}
