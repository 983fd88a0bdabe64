import * as z from "zod";
import { ParquetWriter, ParquetWriterConfig } from "./parquet-writer.js";
import type { Writer } from "./writer.js";

export type { Writer } from "./writer.js";

/** Every writer KIND. */
export const WriterKind = z.discriminatedUnion("KIND", [ParquetWriterConfig]);
export type WriterKind = z.infer<typeof WriterKind>;

const FACTORIES: { [K in WriterKind["KIND"]]: (config: Extract<WriterKind, { KIND: K }>) => Writer } = {
  ParquetWriter: (c) => new ParquetWriter({ path: c.path }),
};

/** Builds the writer a config describes. */
export function createWriter(config: WriterKind): Writer {
  return (FACTORIES[config.KIND] as (c: WriterKind) => Writer)(config);
}
