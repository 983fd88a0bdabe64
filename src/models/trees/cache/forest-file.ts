/**
 * A compiled forest as a file: a header (what the forest is and where its arrays are), the bytes of the
 * shared memory that hold the arrays, and a SHA-256 of all that, so that a damaged or truncated file is
 * detected and never used. Read straight into a new shared memory: no copy of the nodes.
 *
 * Layout: magic (8 bytes) | layout version (u32) | header length (u32) | model digest (32 bytes) |
 * header (JSON) | memory bytes [FOREST_START, end) | SHA-256 of everything before it (32 bytes).
 */
import { createHash, type Hash } from "node:crypto";
import { closeSync, fstatSync, openSync, writeSync } from "node:fs";
import * as z from "zod";
import { readFully } from "../../onnx/source.js";
import type { Forest } from "../forest/index.js";
import { allocateRegions, kernelOf, LAYOUT_VERSION, REGIONS, regionSizes } from "../forest/layout.js";
import { FOREST_START, type Placed } from "../memory.js";

const MAGIC = Buffer.from("MLBFORST", "latin1");
/** Magic, version, header length, model digest. */
const PREFIX = 48;
const CHECKSUM = 32;

const Count = z.int().nonnegative();
/** What the header holds: the forest but its arrays (those are the memory bytes). */
const Header = z.strictObject({
  placed: z.strictObject({
    layout: Count,
    aggregate: Count,
    canonical: z.boolean(),
    nTargets: Count,
    nTrees: Count,
    nodeCount: Count,
    leafCount: Count,
    weightCount: Count,
    nodes: Count,
    flags: Count,
    roots: Count,
    depths: Count,
    leafStart: Count,
    leafTargets: Count,
    leafWeights: Count,
    members: Count,
    memberCount: Count,
    end: Count,
  }),
  finish: z.strictObject({
    kind: Count,
    post: Count,
    aggregate: Count,
    nTargets: Count,
    nTrees: Count,
    base: z.array(z.number()),
    binaryCase: z.boolean(),
    weightsAllPositive: z.boolean(),
  }),
  nFeatures: Count,
  labels: z
    .union([z.strictObject({ ints: z.array(z.string()) }), z.strictObject({ strings: z.array(z.string()) })])
    .optional(),
  nodeCount: Count,
  bytes: Count,
});
type Header = z.output<typeof Header>;

/** Why a forest file was not used: the message says what was wrong with it. */
export class ForestFileInvalid extends Error {}

/**
 * Writes a forest to `path` (a new file: the caller renames it into place).
 *
 * @param digest - the model file's SHA-256 (hex), recorded and checked on reading
 */
export function writeForest(path: string, forest: Forest, digest: string): void {
  const header = Buffer.from(JSON.stringify(headerOf(forest)));
  const prefix = Buffer.alloc(PREFIX);
  MAGIC.copy(prefix, 0);
  prefix.writeUInt32LE(LAYOUT_VERSION, 8);
  prefix.writeUInt32LE(header.length, 12);
  Buffer.from(digest, "hex").copy(prefix, 16);
  const body = new Uint8Array(forest.memory.buffer, FOREST_START, forest.placed.end - FOREST_START);
  const hash = createHash("sha256").update(prefix).update(header).update(body);
  const fd = openSync(path, "wx");
  try {
    for (const part of [prefix, header, body, hash.digest()]) writeAll(fd, part);
  } finally {
    closeSync(fd);
  }
}

/**
 * Reads the forest of a model file from `path`, into a new shared memory.
 *
 * @param digest - the model file's SHA-256 (hex): the file must record the same one
 * @throws ForestFileInvalid when the file is of another layout version, another model, truncated or damaged
 * @throws Error when it cannot be read
 */
export function readForest(path: string, digest: string): Forest {
  const fd = openSync(path, "r");
  try {
    const size = fstatSync(fd).size;
    const prefix = Buffer.alloc(PREFIX);
    if (size < PREFIX + CHECKSUM) throw new ForestFileInvalid(`it has ${size} bytes, too few for a forest`);
    readFully(fd, prefix, PREFIX, 0);
    if (!prefix.subarray(0, 8).equals(MAGIC)) throw new ForestFileInvalid("it is not a forest file");
    const version = prefix.readUInt32LE(8);
    if (version !== LAYOUT_VERSION)
      throw new ForestFileInvalid(`it has layout version ${version}, not ${LAYOUT_VERSION}`);
    if (prefix.subarray(16, 48).toString("hex") !== digest)
      throw new ForestFileInvalid("it was compiled from another model file");
    const headerLength = prefix.readUInt32LE(12);
    if (PREFIX + headerLength + CHECKSUM > size) throw new ForestFileInvalid("it is truncated");
    const headerBytes = Buffer.alloc(headerLength);
    readFully(fd, headerBytes, headerLength, PREFIX);
    const hash = createHash("sha256").update(prefix).update(headerBytes);
    const header = parseHeader(headerBytes);
    const bodyLength = header.placed.end - FOREST_START;
    if (size !== PREFIX + headerLength + bodyLength + CHECKSUM)
      throw new ForestFileInvalid(
        `it has ${size} bytes, not the ${PREFIX + headerLength + bodyLength + CHECKSUM} its header says`,
      );
    return forestOf(header, (body) => {
      readFully(fd, body, bodyLength, PREFIX + headerLength);
      checkSum(fd, hash.update(body), size - CHECKSUM);
    });
  } finally {
    closeSync(fd);
  }
}

function headerOf(forest: Forest): Header {
  const { labels } = forest;
  return {
    placed: { ...forest.placed },
    finish: { ...forest.finish, base: Array.from(forest.finish.base) },
    nFeatures: forest.nFeatures,
    ...(labels === undefined
      ? {}
      : {
          labels:
            "ints" in labels ? { ints: Array.from(labels.ints, String) } : { strings: [...labels.strings] },
        }),
    nodeCount: forest.nodeCount,
    bytes: forest.bytes,
  };
}

function parseHeader(bytes: Buffer): Header {
  let json: unknown;
  try {
    json = JSON.parse(bytes.toString("utf8"));
  } catch {
    throw new ForestFileInvalid("its header is not JSON");
  }
  const header = Header.safeParse(json);
  if (!header.success) throw new ForestFileInvalid("its header is not a forest's");
  return header.data;
}

/** A new forest's memory, filled by `fill` with the file's bytes, as its header describes. */
function forestOf(header: Header, fill: (body: Uint8Array) => void): Forest {
  const placed: Placed = header.placed;
  const { memory, at, end } = allocateRegions(regionSizes(placed));
  if (end !== placed.end || REGIONS.some((region) => at[region] !== placed[region])) {
    throw new ForestFileInvalid("its regions are not where this mlbatch lays them");
  }
  fill(new Uint8Array(memory.buffer, FOREST_START, end - FOREST_START));
  const { labels } = header;
  return {
    kernel: kernelOf(memory.buffer, placed),
    memory,
    placed,
    finish: { ...header.finish, base: Float32Array.from(header.finish.base) },
    nFeatures: header.nFeatures,
    labels:
      labels === undefined
        ? undefined
        : "ints" in labels
          ? { ints: BigInt64Array.from(labels.ints, (s) => BigInt(s)) }
          : { strings: labels.strings },
    nodeCount: header.nodeCount,
    bytes: header.bytes,
  };
}

/** Compares the checksum at `at` with the hash of what comes before it. */
function checkSum(fd: number, hash: Hash, at: number): void {
  const stored = Buffer.alloc(CHECKSUM);
  readFully(fd, stored, CHECKSUM, at);
  if (!stored.equals(hash.digest()))
    throw new ForestFileInvalid("its checksum does not match: it is damaged");
}

function writeAll(fd: number, bytes: Uint8Array): void {
  let done = 0;
  while (done < bytes.length) done += writeSync(fd, bytes, done, bytes.length - done);
}
