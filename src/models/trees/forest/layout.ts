/**
 * The kernel's layout of a decoded ensemble, in a new shared WebAssembly memory. Nodes are laid out
 * breadth-first, tree by tree, the two children of a node side by side, so that a step of the walk is
 * `next = first + (x[feature] > threshold)`; see `kernel.ts` and `wasm/trees.ts`, which read these slots
 * by the same offsets.
 */
import type { KernelFinish } from "../finish.js";
import type { KernelForest } from "../kernel.js";
import { allocate, type Placed, type WasmMemory } from "../memory.js";
import { Unsupported } from "../unsupported.js";
import { type Decoded, MODE } from "./decoded.js";
import type { Forest } from "./forest.js";

/**
 * The version of the bytes an ensemble compiles to: bump it whenever the layout or what the decoders
 * make of an attribute changes, so that forests cached by an older mlbatch are compiled again.
 */
export const LAYOUT_VERSION = 1;

/** Int32 slots of a node (16 bytes). */
export const NODE_SLOTS = 4;
/** Slot: the feature a node compares (0 for a leaf). */
export const SLOT_FEATURE = 0;
/** Slot: the node's first child (the second is next to it); a leaf's own index. */
export const SLOT_CHILD = 1;
/** Slot: the threshold (float32 bits), +Infinity for a leaf; a set's start for `BRANCH_MEMBER`. */
export const SLOT_THRESHOLD = 2;
/** Slot: a leaf's value (float32 bits, one target) or ordinal (several); a set's end for `BRANCH_MEMBER`. */
export const SLOT_LEAF = 3;

/** `flags` bits 0-2: the comparison (0: `x > threshold`, the form every `BRANCH_LEQ/LT/GTE/GT` takes). */
export const FLAG_COMPARE = 7;
/** `flags` bit 3: a NaN goes to the second child. */
export const FLAG_NAN_SECOND = 8;
/** Comparison codes of the modes kept as stated, by {@link MODE} (LEQ 3, LT 4, GTE 5, GT 6, EQ 1, NEQ 2, MEMBER 7). */
const STATED = [3, 4, 5, 6, 1, 2, -1, 7];

/** The forest's arrays in the shared memory, in order. */
export const REGIONS = [
  "nodes",
  "flags",
  "roots",
  "depths",
  "leafStart",
  "leafTargets",
  "leafWeights",
  "members",
] as const;
export type Region = (typeof REGIONS)[number];

/** The nodes in layout order, and each tree's root and depth. */
interface Order {
  /** Nodes laid out (internal nodes and leaves of the reachable trees). */
  readonly count: number;
  /** laid[j]: the decoded index of the j-th laid node. */
  readonly laid: Int32Array;
  /** newIndex[i]: where decoded node i is laid (-1: unreachable). */
  readonly newIndex: Int32Array;
  readonly roots: Int32Array;
  readonly depths: Int32Array;
  readonly maxFeature: number;
  readonly leaves: number;
  readonly weights: number;
  readonly memberCount: number;
}

/** Lays a decoded ensemble out for the kernel, in a new shared memory. */
export function layOut(d: Decoded): Forest {
  const order = breadthFirst(d);
  const single = !d.classifier && d.nTargets === 1;
  // The arrays go straight into the engine's shared memory (no copy of the nodes at any time).
  const weightsLaid = single ? 0 : order.weights;
  const leafSlots = single ? 1 : order.leaves + 1;
  const sizes = regionSizes({
    nodeCount: order.count,
    nTrees: order.roots.length,
    leafCount: leafSlots - 1,
    weightCount: weightsLaid,
    memberCount: order.memberCount,
  });
  const { memory, at, end } = allocateRegions(sizes);
  const laid: Placed = {
    layout: single ? 0 : 1,
    aggregate: d.aggregate,
    canonical: true,
    nTargets: d.nTargets,
    nTrees: order.roots.length,
    nodeCount: order.count,
    leafCount: leafSlots - 1,
    weightCount: weightsLaid,
    ...at,
    memberCount: order.memberCount,
    end,
  };
  const views = kernelOf(memory.buffer, laid);
  views.roots.set(order.roots);
  views.depths.set(order.depths);
  const placed = { ...laid, canonical: writeNodes(views, d, order, single) };
  return {
    kernel: { ...views, canonical: placed.canonical },
    memory,
    placed,
    finish: finishOf(d),
    nFeatures: order.maxFeature + 1,
    labels: d.labels,
    nodeCount: order.count,
    bytes: REGIONS.reduce((sum, region) => sum + sizes[region], 0),
  };
}

/** The byte sizes of a forest's regions, from its counts. */
export function regionSizes(
  p: Pick<Placed, "nodeCount" | "nTrees" | "leafCount" | "weightCount" | "memberCount">,
): Record<Region, number> {
  return {
    nodes: 4 * NODE_SLOTS * p.nodeCount,
    flags: p.nodeCount,
    roots: 4 * p.nTrees,
    depths: 4 * p.nTrees,
    leafStart: 4 * (p.leafCount + 1),
    leafTargets: 4 * p.weightCount,
    leafWeights: 4 * p.weightCount,
    members: 4 * p.memberCount,
  };
}

/** A new shared memory with room for a forest's regions, and where they are in it. */
export function allocateRegions(sizes: Record<Region, number>): {
  memory: WasmMemory;
  at: Record<Region, number>;
  end: number;
} {
  const { memory, offsets, end } = allocate(REGIONS.map((region) => sizes[region]));
  const at = Object.fromEntries(REGIONS.map((region, i) => [region, offsets[i]!])) as Record<Region, number>;
  return { memory, at, end };
}

/** The kernel's views of a forest placed in a shared memory. */
export function kernelOf(buffer: SharedArrayBuffer, p: Placed): KernelForest {
  return {
    layout: p.layout,
    aggregate: p.aggregate,
    canonical: p.canonical,
    nTargets: p.nTargets,
    nTrees: p.nTrees,
    nodes: new Int32Array(buffer, p.nodes, NODE_SLOTS * p.nodeCount),
    values: new Float32Array(buffer, p.nodes, NODE_SLOTS * p.nodeCount),
    flags: new Uint8Array(buffer, p.flags, p.nodeCount),
    roots: new Int32Array(buffer, p.roots, p.nTrees),
    depths: new Int32Array(buffer, p.depths, p.nTrees),
    leafStart: new Int32Array(buffer, p.leafStart, p.leafCount + 1),
    leafTargets: new Int32Array(buffer, p.leafTargets, p.weightCount),
    leafWeights: new Float32Array(buffer, p.leafWeights, p.weightCount),
    members: new Float32Array(buffer, p.members, p.memberCount),
  };
}

/** How the kernel's scores are finished: the decoded ensemble's post-processing. */
export function finishOf(d: Decoded): KernelFinish {
  return {
    kind: d.classifier ? 1 : 0,
    post: d.post,
    aggregate: d.aggregate,
    nTargets: d.nTargets,
    nTrees: d.roots.length,
    base: d.base,
    binaryCase: d.binaryCase,
    weightsAllPositive: d.allPositive,
  };
}

/**
 * Orders the reachable nodes breadth-first, tree by tree, the two children of a node side by side: first
 * the one `x <= t'` leads to.
 */
function breadthFirst(d: Decoded): Order {
  const { n, modes, features, thresholds, trueChild, falseChild, weightStart } = d;
  const nTrees = d.roots.length;
  const single = !d.classifier && d.nTargets === 1;
  const newIndex = new Int32Array(n).fill(-1);
  const laid = new Int32Array(n);
  const roots = new Int32Array(nTrees);
  const depths = new Int32Array(nTrees);
  let count = 0;
  let maxFeature = 0;
  let leaves = 0;
  let weights = 0;
  let memberCount = 0;
  for (let t = 0; t < nTrees; t++) {
    const root = d.roots[t]!;
    if (newIndex[root] !== -1) throw new Unsupported(`tree ${t} starts at a node of another tree`);
    roots[t] = count;
    newIndex[root] = count;
    laid[count++] = root;
    // Each level is laid whole before the next one: level `level` ends at `levelEnd`.
    let level = 0;
    let levelEnd = count;
    for (let q = roots[t]!; q < count; q++) {
      if (q === levelEnd) {
        level++;
        levelEnd = count;
      }
      const i = laid[q]!;
      const mode = modes[i]!;
      if (mode === MODE.LEAF) {
        const w = weightStart[i + 1]! - weightStart[i]!;
        if (w === 0) throw new Unsupported(`${d.name(i)} is a leaf without weight`);
        if (single && w > 1) throw new Unsupported("a leaf of a single-target ensemble has several weights");
        leaves++;
        weights += w;
        continue;
      }
      if (features[i]! < 0) throw new Unsupported("a feature id is negative");
      if (mode === MODE.MEMBER) memberCount += d.memberEnd[i]! - d.memberStart[i]!;
      if (features[i]! > maxFeature) maxFeature = features[i]!;
      if (level + 1 > depths[t]!) depths[t] = level + 1;
      const swap = swapped(mode, thresholds[i]!);
      const a = swap ? falseChild[i]! : trueChild[i]!;
      const b = swap ? trueChild[i]! : falseChild[i]!;
      if (a < 0 || b < 0) throw new Unsupported(`a child of ${d.name(i)} does not exist`);
      if (newIndex[a] !== -1 || newIndex[b] !== -1 || a === b) {
        throw new Unsupported(`a child of ${d.name(i)} has two parents`);
      }
      newIndex[a] = count;
      laid[count++] = a;
      newIndex[b] = count;
      laid[count++] = b;
    }
  }
  return { count, laid, newIndex, roots, depths, maxFeature, leaves, weights, memberCount };
}

/** Writes the nodes, leaves and sets; returns whether every node compares as `x > t'`. */
function writeNodes(k: KernelForest, d: Decoded, order: Order, single: boolean): boolean {
  const { nodes, values, flags, leafStart, leafTargets, leafWeights, members } = k;
  const { modes, thresholds, missing, trueChild, falseChild, weightStart } = d;
  let canonical = true;
  let leaf = 0;
  let written = 0;
  let membersWritten = 0;
  for (let j = 0; j < order.count; j++) {
    const i = order.laid[j]!;
    const p = j * NODE_SLOTS;
    const mode = modes[i]!;
    if (mode === MODE.LEAF) {
      // A leaf points to itself and never moves on: walking a tree for its full depth ends on it.
      nodes[p + SLOT_FEATURE] = 0;
      nodes[p + SLOT_CHILD] = j;
      values[p + SLOT_THRESHOLD] = Number.POSITIVE_INFINITY;
      if (single) values[p + SLOT_LEAF] = d.weightValues[weightStart[i]!]!;
      else {
        nodes[p + SLOT_LEAF] = leaf;
        leafStart[leaf++] = written;
        for (let w = weightStart[i]!; w < weightStart[i + 1]!; w++) {
          leafTargets[written] = d.weightTargets[w]!;
          leafWeights[written++] = d.weightValues[w]!;
        }
      }
      continue;
    }
    const t = thresholds[i]!;
    const swap = swapped(mode, t);
    nodes[p + SLOT_FEATURE] = d.features[i]!;
    nodes[p + SLOT_CHILD] = order.newIndex[swap ? falseChild[i]! : trueChild[i]!]!;
    let flag = 0;
    if (canonicalForm(mode, t))
      values[p + SLOT_THRESHOLD] = mode === MODE.LT || mode === MODE.GTE ? below(t) : t;
    else if (mode === MODE.MEMBER) {
      // The set's values, copied after the others; the node holds where they are.
      const set = d.members.subarray(d.memberStart[i]!, d.memberEnd[i]!);
      // ONNX Runtime tests small sets (integers within [0, 30]) exactly, others on the truncated value.
      const exact = set.every((v) => v >= 0 && v <= 30);
      nodes[p + SLOT_THRESHOLD] = exact ? ~membersWritten : membersWritten;
      members.set(set, membersWritten);
      membersWritten += set.length;
      nodes[p + SLOT_LEAF] = membersWritten;
      flag = STATED[mode]!;
      canonical = false;
    } else {
      // EQ, NEQ, and comparisons with a NaN (or LT/GTE with a -Infinity) threshold, as ONNX states them.
      values[p + SLOT_THRESHOLD] = t;
      flag = STATED[mode]!;
      canonical = false;
    }
    // Where a NaN goes: the true branch when tracked (or for NEQ, as NaN != t), else the false one.
    const nanTrue = missing[i] === 1 || mode === MODE.NEQ;
    flags[j] = flag | ((swap ? nanTrue : !nanTrue) ? FLAG_NAN_SECOND : 0);
  }
  leafStart[leaf] = written;
  return canonical;
}

/** The float32 just below `t` (for `x < t` as `x <= below(t)` on float32 x). */
function below(t: number): number {
  const f = new Float32Array([t]);
  const u = new Uint32Array(f.buffer);
  if (t === 0) u[0] = 0x80000001;
  else if (t > 0) u[0] = u[0]! - 1;
  else u[0] = u[0]! + 1;
  return f[0]!;
}

/** Whether a node compares as `x > t'` (LEQ, LT, GTE, GT with a usable threshold). */
function canonicalForm(mode: number, t: number): boolean {
  if (Number.isNaN(t)) return false;
  if (mode === MODE.LEQ || mode === MODE.GT) return true;
  return (mode === MODE.LT || mode === MODE.GTE) && t !== Number.NEGATIVE_INFINITY;
}

/** Whether the node's true child goes second: `x >= t` and `x > t` are `x > t'` true. */
function swapped(mode: number, t: number): boolean {
  return (mode === MODE.GT || mode === MODE.GTE) && canonicalForm(mode, t);
}
