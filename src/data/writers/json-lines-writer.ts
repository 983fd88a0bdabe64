import * as z from "zod";
import { configOf, type OptionsOf } from "../options.js";
import { type CopyFormat, FILE_WRITER_FIELDS, FileWriter } from "./files.js";

/** Config of {@link JsonLinesWriter}. */
export const JsonLinesWriterConfig = z
  .strictObject({
    KIND: z.literal("JsonLinesWriter"),
    ...FILE_WRITER_FIELDS,
  })
  .describe("Writes JSON Lines: one JSON object per row and line, null as null.");
export type JsonLinesWriterConfig = z.infer<typeof JsonLinesWriterConfig>;

/** The options of {@link JsonLinesWriter}: its config's fields, camelCase (`maxRowsPerFile`). */
export type JsonLinesWriterOptions = OptionsOf<typeof JsonLinesWriterConfig>;

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
  /**
   * @param options - `path`; `mode` (default `error`); `maxRowsPerFile`
   * @throws MlbatchError `E_CONFIG` for an invalid option
   */
  constructor(options: JsonLinesWriterOptions) {
    super(configOf(JsonLinesWriterConfig, "JsonLinesWriter", options));
  }

  protected get format(): CopyFormat {
    return { extension: ".jsonl", copy: "FORMAT json" };
  }
}
