import * as z from "zod";
import { type CopyFormat, FILE_WRITER_FIELDS, FileWriter } from "./files.js";

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
export class JsonLinesWriter extends FileWriter {
  protected get format(): CopyFormat {
    return { extension: ".jsonl", copy: "FORMAT json" };
  }
}
