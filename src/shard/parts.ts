/**
 * A unit's part file: written by the job's writer under a temporary name, then placed atomically; stamped
 * (Parquet key-value metadata) with the plan id, the unit id and the rows the unit read and dropped, so that a part can be
 * checked "complete and valid" from its footer alone.
 */
import { createHash } from "node:crypto";
import { createReadStream } from "node:fs";
import { rm } from "node:fs/promises";
import type { Database } from "../data/database.js";
import { isObjectUri } from "../data/object-store/uri.js";
import { quotedString } from "../data/sql.js";
import type { RowProducer, Writer } from "../data/writers/writer.js";
import { messageOf } from "../errors.js";
import { placeExclusive, replaceWith } from "./exclusive.js";
import type { PartExpectation, PartStatus } from "./manifest.js";
import { checkObjectPart, writeObjectPart } from "./object-shards.js";

export type { PartExpectation, PartStatus };

/**
 * Writes the rows `produce` appends as the part at `path` with the writer (Parquet), through `temp`
 * (beside it), stamped with the plan, the unit and its rows read and dropped. If a valid part for the
 * same unit appeared meanwhile (a twin shard), it is kept and this one discarded: a valid part never
 * changes once placed, so the commit's checksums stay true. An invalid one is replaced.
 *
 * @returns the rows written, and whether this call placed the part
 * @throws the underlying error (the temporary file is removed)
 */
export async function writePart(
  db: Database,
  writer: Writer,
  produce: RowProducer,
  target: { readonly path: string; readonly temp: string },
  stamp: PartExpectation & { readonly dropped: number },
): Promise<{ rows: number; placed: boolean }> {
  if (isObjectUri(target.path)) return writeObjectPart(db, writer, produce, target, stamp);
  const { path, temp } = target;
  const metadata = {
    mlbatch_plan: stamp.planId,
    mlbatch_unit: stamp.unit,
    mlbatch_rows_read: String(stamp.rows),
    mlbatch_rows_dropped: String(stamp.dropped),
  };
  const rows = await writer.writeFile(db, temp, produce, { metadata, part: path });
  try {
    if (await placeExclusive(temp, path)) return { rows, placed: true };
    if ((await checkPart(db, path, stamp)).valid) return { rows, placed: false };
    await replaceWith(temp, path);
    return { rows, placed: true };
  } finally {
    await rm(temp, { force: true });
  }
}

/**
 * Whether the part at `path` is complete and valid for its unit: its Parquet footer reads, it carries
 * the plan's and the unit's ids, and its rows plus the rows dropped are the unit's rows.
 */
export async function checkPart(db: Database, path: string, expected: PartExpectation): Promise<PartStatus> {
  if (isObjectUri(path)) return checkObjectPart(path, expected);
  let rows: number;
  let stamp: Map<string, string>;
  try {
    const [meta] = await db.rows(
      `SELECT num_rows::BIGINT AS n FROM parquet_file_metadata(${quotedString(path)})`,
    );
    rows = Number(meta?.n ?? Number.NaN);
    const kv = await db.rows(
      `SELECT decode(key) AS k, decode(value) AS v FROM parquet_kv_metadata(${quotedString(path)})`,
    );
    stamp = new Map(kv.map((row) => [String(row.k), String(row.v)]));
  } catch (error) {
    const missing = /No files found|does not exist|No such file/i.test(messageOf(error));
    return {
      valid: false,
      rows: 0,
      dropped: 0,
      reason: missing ? "missing" : `unreadable: ${messageOf(error)}`,
    };
  }
  const dropped = Number(stamp.get("mlbatch_rows_dropped") ?? Number.NaN);
  const fail = (reason: string): PartStatus => ({ valid: false, rows, dropped, reason });
  if (stamp.get("mlbatch_plan") !== expected.planId) return fail("written for another plan");
  if (stamp.get("mlbatch_unit") !== expected.unit) return fail("written for another unit");
  if (rows + dropped !== expected.rows) {
    return fail(`${rows} rows + ${dropped} dropped, the unit has ${expected.rows}`);
  }
  return { valid: true, rows, dropped };
}

/** The SHA-256 of a file, streamed. */
export async function fileSha256(path: string): Promise<string> {
  const hash = createHash("sha256");
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest("hex");
}
