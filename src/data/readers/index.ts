import * as z from "zod";
import { optionsOf } from "../options.js";
import { CsvReader, CsvReaderConfig } from "./csv-reader.js";
import { JsonLinesReader, JsonLinesReaderConfig } from "./json-lines-reader.js";
import { ParquetReader, ParquetReaderConfig } from "./parquet-reader.js";
import type { Reader } from "./reader.js";

export type { Reader } from "./reader.js";

/** Every reader KIND. */
export const ReaderKind = z.discriminatedUnion("KIND", [
  ParquetReaderConfig,
  CsvReaderConfig,
  JsonLinesReaderConfig,
]);
export type ReaderKind = z.infer<typeof ReaderKind>;

const FACTORIES: { [K in ReaderKind["KIND"]]: (config: Extract<ReaderKind, { KIND: K }>) => Reader } = {
  ParquetReader: (c) => new ParquetReader(optionsOf(c)),
  CsvReader: (c) => new CsvReader(optionsOf(c)),
  JsonLinesReader: (c) => new JsonLinesReader(optionsOf(c)),
};

/** Builds the reader a config describes. */
export function createReader(config: ReaderKind): Reader {
  return (FACTORIES[config.KIND] as (c: ReaderKind) => Reader)(config);
}
