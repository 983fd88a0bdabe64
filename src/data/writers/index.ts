import * as z from "zod";
import { optionsOf } from "../options.js";
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
  ParquetWriter: (c) => new ParquetWriter(optionsOf(c)),
  CsvWriter: (c) => new CsvWriter(optionsOf(c)),
  JsonLinesWriter: (c) => new JsonLinesWriter(optionsOf(c)),
};

/** Builds the writer a config describes. */
export function createWriter(config: WriterKind): Writer {
  return (FACTORIES[config.KIND] as (c: WriterKind) => Writer)(config);
}
