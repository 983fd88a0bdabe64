/**
 * Work units of a sharded run: the inputs cut into pieces (Parquet row groups, other files whole), each
 * with its size, and their deterministic assignment to shards.
 */
import { createHash } from "node:crypto";
import { open, stat } from "node:fs/promises";
import type { Database } from "../data/database.js";
import { ObjectStore } from "../data/object-store/object-store.js";
import { isObjectUri } from "../data/object-store/uri.js";
import type { InputUnit, Reader } from "../data/readers/reader.js";
import { MlbatchError, messageOf } from "../errors.js";

/** An input file as planned: its path, size and digest. */
export interface PlannedFile {
  readonly path: string;
  readonly bytes: number;
  /** See {@link fileDigest}. */
  readonly digest: string;
}

/** A work unit: rows of one input file, written to one part file `part-<id>.parquet`. */
export interface WorkUnit {
  /** Zero-padded position in the plan (input order): parts in id order are the outputs in input order. */
  readonly id: string;
  /** Index of the file in the plan's files. */
  readonly file: number;
  /** The Parquet row group, or null for a whole file. */
  readonly row_group: number | null;
  readonly first_row: number;
  readonly rows: number;
}

/** Files up to this size are hashed whole; larger ones by their size, first and last MiB. */
const WHOLE_DIGEST_BYTES = 8 * 2 ** 20;
const EDGE_BYTES = 2 ** 20;

/**
 * A cheap content digest of an input file: `sha256:` of the whole file up to 8 MiB; above, of its size,
 * first MiB and last MiB (`sha256-edges:`), which covers a Parquet file's footer (schema, row groups,
 * statistics). Modification times are left out, so copies of the same file have the same digest. An
 * `s3://` object's digest is its entity tag (`s3-etag:`), which changes with every upload of it.
 *
 * @throws MlbatchError `E_READ` when the file cannot be read
 */
export async function fileDigest(path: string): Promise<{ bytes: number; digest: string }> {
  if (isObjectUri(path)) return objectDigest(path);
  try {
    const { size } = await stat(path);
    const hash = createHash("sha256");
    const handle = await open(path, "r");
    try {
      const read = async (position: number, length: number) => {
        const buffer = Buffer.alloc(length);
        const { bytesRead } = await handle.read(buffer, 0, length, position);
        hash.update(buffer.subarray(0, bytesRead));
      };
      if (size <= WHOLE_DIGEST_BYTES) {
        for (let at = 0; at < size; at += EDGE_BYTES) await read(at, Math.min(EDGE_BYTES, size - at));
        return { bytes: size, digest: `sha256:${hash.digest("hex")}` };
      }
      hash.update(`${size}\n`);
      await read(0, EDGE_BYTES);
      await read(size - EDGE_BYTES, EDGE_BYTES);
      return { bytes: size, digest: `sha256-edges:${hash.digest("hex")}` };
    } finally {
      await handle.close();
    }
  } catch (error) {
    throw new MlbatchError("E_READ", `cannot read input file "${path}": ${messageOf(error)}`, {
      cause: error,
    });
  }
}

/** An object's size and entity tag, from its metadata alone. */
async function objectDigest(uri: string): Promise<{ bytes: number; digest: string }> {
  const object = await ObjectStore.fromEnvironment().head(uri);
  if (object === undefined) {
    throw new MlbatchError("E_READ", `cannot read input file "${uri}": there is no such object.`);
  }
  return { bytes: object.size, digest: `s3-etag:${object.etag}` };
}

/**
 * Lists the inputs' files (sorted, as the reader reads them), digests them, and numbers the work units
 * the reader cuts them into (Parquet row groups, other files whole) in input order.
 *
 * @throws MlbatchError `E_READ` when the inputs cannot be listed or read
 */
export async function listUnits(
  db: Database,
  reader: Reader,
): Promise<{ files: PlannedFile[]; units: WorkUnit[]; folder: boolean }> {
  const cut = await reader.cut(db);
  const files: PlannedFile[] = [];
  const pieces: Omit<WorkUnit, "id">[] = [];
  for (const [file, { path, units }] of cut.files.entries()) {
    files.push({ path, ...(await fileDigest(path)) });
    for (const unit of units) {
      pieces.push({ file, row_group: unit.rowGroup, first_row: unit.firstRow, rows: unit.rows });
    }
  }
  const width = Math.max(5, String(pieces.length - 1).length);
  const units = pieces.map((piece, i) => ({ id: String(i).padStart(width, "0"), ...piece }));
  return { files, units, folder: cut.folder };
}

/** A planned unit as its reader opens it. */
export function inputUnit(unit: WorkUnit, files: readonly PlannedFile[]): InputUnit {
  const file = files[unit.file];
  if (file === undefined)
    throw new MlbatchError("E_CONFIG", `the plan is inconsistent (unit ${unit.id}): remove it.`);
  return { file: file.path, rowGroup: unit.row_group, firstRow: unit.first_row, rows: unit.rows };
}

/**
 * Assigns units to `count` shards, balanced by rows: largest units first (ties by id), each to the
 * least-loaded shard (ties by the lower index). Every unit goes to exactly one shard; the result depends
 * only on the units and the count, so every shard computes the same assignment.
 *
 * @returns for each shard index, its units in id order
 * @example
 * ```ts
 * assignUnits(plan.units, 4)[2]; // the units of shard 2 of 4
 * ```
 */
export function assignUnits<U extends Pick<WorkUnit, "id" | "rows">>(
  units: readonly U[],
  count: number,
): U[][] {
  const shards: U[][] = Array.from({ length: count }, () => []);
  const load = new Array<number>(count).fill(0);
  const order = [...units].sort((a, b) => b.rows - a.rows || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  for (const unit of order) {
    let least = 0;
    for (let i = 1; i < count; i++) if (load[i]! < load[least]!) least = i;
    shards[least]!.push(unit);
    load[least]! += unit.rows;
  }
  for (const shard of shards) shard.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  return shards;
}
