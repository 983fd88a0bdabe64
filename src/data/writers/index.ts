import * as z from "zod";
import { CsvWriter, CsvWriterConfig } from "./csv-writer.js";
import { JsonLinesWriter, JsonLinesWriterConfig } from "./json-lines-writer.js";
import { ParquetWriter, ParquetWriterConfig } from "./parquet-writer.js";
import type { Writer } from "./writer.js";

export type { Writer } from "./writer.js";

/** Every writer KIND. */
export const WriterKind = z.discriminatedUnion("KIND", [
  ParquetWriterConfig,
  CsvWriterConfig,
  JsonLinesWriterConfig,
]);
export type WriterKind = z.infer<typeof WriterKind>;

const FACTORIES: { [K in WriterKind["KIND"]]: (config: Extract<WriterKind, { KIND: K }>) => Writer } = {
  ParquetWriter: (c) =>
    new ParquetWriter({
      path: c.path,
      mode: c.mode,
      maxRowsPerFile: c.max_rows_per_file,
      compression: c.compression,
    }),
  CsvWriter: (c) =>
    new CsvWriter({
      path: c.path,
      mode: c.mode,
      maxRowsPerFile: c.max_rows_per_file,
      delimiter: c.delimiter,
      header: c.header,
    }),
  JsonLinesWriter: (c) =>
    new JsonLinesWriter({ path: c.path, mode: c.mode, maxRowsPerFile: c.max_rows_per_file }),
};

/** Builds the writer a config describes. */
export function createWriter(config: WriterKind): Writer {
  return (FACTORIES[config.KIND] as (c: WriterKind) => Writer)(config);
}
