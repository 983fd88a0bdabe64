import * as z from "zod";
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
  ParquetReader: (c) =>
    new ParquetReader({
      path: c.path,
      columns: c.columns,
      limit: c.limit,
      hivePartitioning: c.hive_partitioning,
    }),
  CsvReader: (c) =>
    new CsvReader({
      path: c.path,
      columns: c.columns,
      limit: c.limit,
      hivePartitioning: c.hive_partitioning,
      delimiter: c.delimiter,
      header: c.header,
      quote: c.quote,
      escape: c.escape,
      nullStrings: c.null_strings,
      types: c.types,
    }),
  JsonLinesReader: (c) =>
    new JsonLinesReader({
      path: c.path,
      columns: c.columns,
      limit: c.limit,
      hivePartitioning: c.hive_partitioning,
      types: c.types,
    }),
};

/** Builds the reader a config describes. */
export function createReader(config: ReaderKind): Reader {
  return (FACTORIES[config.KIND] as (c: ReaderKind) => Reader)(config);
}
