import * as z from "zod";
import { ParquetReader, ParquetReaderConfig } from "./parquet-reader.js";
import type { Reader } from "./reader.js";

export type { Reader } from "./reader.js";

/** Every reader KIND. */
export const ReaderKind = z.discriminatedUnion("KIND", [ParquetReaderConfig]);
export type ReaderKind = z.infer<typeof ReaderKind>;

const FACTORIES: { [K in ReaderKind["KIND"]]: (config: Extract<ReaderKind, { KIND: K }>) => Reader } = {
  ParquetReader: (c) => new ParquetReader({ path: c.path, limit: c.limit }),
};

/** Builds the reader a config describes. */
export function createReader(config: ReaderKind): Reader {
  return (FACTORIES[config.KIND] as (c: ReaderKind) => Reader)(config);
}
