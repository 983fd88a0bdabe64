/**
 * Trees compiled to WebAssembly: each tree becomes nested `if`/`else` code with its thresholds as
 * constants, so that a row's walk is branches over the row's own values with no node loads at all (what
 * lleaves does with LLVM, here with the compiler V8 already has). Trees are grouped in chunks, one function
 * each, that add their leaves to a score per row, in tree order: the same float32 sums, bit for bit, as the
 * node-walking kernel (`kernel.ts`, `wasm/trees.ts`).
 *
 * What makes it fast (measured on a 500-tree LightGBM model, 1M rows, one thread: the node walk 4.4 s,
 * nested branches on float compares 3.0 s, this 1.1 s; the steps in docs/engine.md):
 * - Comparisons on integers: a float32's bits, sign-folded, order as the floats do (-0 taken as +0), so a
 *   node is one `cmp` with an immediate. The keys of a thread's rows are computed once (`keys`), with
 *   NaN below every value (for nodes sending NaN to the first child) and above (to the second).
 * - The bottom levels without branches: a subtree of height at most {@link SELECT_HEIGHT} picks its leaf's
 *   index with integer selects (conditional moves) and loads the leaf's value from the forest's nodes;
 *   those splits are the ones a branch predictor guesses worst.
 * - Chunks of about {@link CHUNK_NODES} nodes (their code stays in the instruction cache), each run over
 *   all of a thread's rows before the next one (the branch predictor learns a chunk's branches).
 *
 * Compiled: forests summed or averaged whose leaves hold one value, or one weight for one target with
 * every leaf of a tree on the same target (regressors, boosting margins, boosted classifiers' trees per
 * class), whose nodes compare with a threshold (any of ONNX's `BRANCH_*` modes but set membership),
 * rows with NaN included (each node's NaN branch is compiled in). Other forests (a random forest
 * classifier's leaves weigh every class), and forests too large to be worth compiling, walk their nodes.
 */
import {
  FLAG_COMPARE,
  FLAG_NAN_SECOND,
  NODE_SLOTS,
  SLOT_CHILD,
  SLOT_FEATURE,
  SLOT_LEAF,
  SLOT_THRESHOLD,
} from "./forest/layout.js";
import type { KernelForest } from "./kernel.js";
import { type Placed, Wasm } from "./memory.js";

/** Nodes above which a forest is not compiled (its code would be tens of MB). */
export const COMPILE_MAX_NODES = 1 << 19;
/** Nodes per chunk function, about (a chunk ends on a tree's end). */
const CHUNK_NODES = 1024;
/** Subtrees at most this high (levels of internal nodes) pick their leaf by selects, with no branch. */
const SELECT_HEIGHT = 3;

/** A compiled forest: its module, and where its chunks start and end (tree indexes, ascending). */
export interface CompiledTrees {
  /**
   * The WebAssembly module, on the engine's shared memory. Exports `keys(x, stride, out, begin, end)`:
   * the integer keys of rows [begin, end) of the row-major float32 matrix at x (`stride` bytes a row),
   * `keyBytes` a row from out; and `c0`, `c1`, ... `(x, stride, keys, begin, end, scores)`: chunk c adds
   * trees [cuts[c], cuts[c + 1]) to the float32 scores[r * nTargets + target] of rows [begin, end), whose
   * keys are at keys.
   */
  readonly module: object;
  /** `cuts[c]` is chunk c's first tree; the last entry is the number of trees. */
  readonly cuts: readonly number[];
  /** Bytes of a row's keys. */
  readonly keyBytes: number;
  /** The targets chunk c adds to (each of its rows gets a weight for each of them). */
  readonly targets: readonly (readonly number[])[];
  /** Scores per row. */
  readonly nTargets: number;
}

/**
 * Compiles a forest's trees, in chunks that never straddle one of `shares` (the tree indexes where the
 * engine's threads' shares start), so that every share is a run of whole chunks. `placed` says where the
 * forest's nodes and leaf weights are in the shared memory (the selects read leaf values there). Returns
 * `undefined` for a forest the compiled form does not cover.
 *
 * @example
 * ```ts
 * const compiled = compileTrees(forest.kernel, forest.placed, [0, 250, 500]);
 * ```
 */
export function compileTrees(
  k: KernelForest,
  placed: Placed,
  shares: readonly number[],
): CompiledTrees | undefined {
  const target = treeTargets(k);
  if (target === undefined) return undefined;
  const shape = shapeOf(k, target);
  const cuts = chunkCuts(k, shares);
  const bodies = cuts.slice(0, -1).map((t0, c) => chunkBody(k, shape, placed, t0, cuts[c + 1]!));
  const targets = cuts.slice(0, -1).map((t0, c) => chunkTargets(shape, t0, cuts[c + 1]!));
  let module: object;
  try {
    module = new Wasm.Module(moduleBytes([keysBody(shape), ...bodies]));
  } catch {
    // A limit of the WebAssembly engine (a function's size or locals): the node walk runs the forest.
    return undefined;
  }
  return { module, cuts, keyBytes: 4 * shape.keyed.length, targets, nTargets: k.nTargets };
}

/** Whether the compiled form covers the forest. */
export function compilable(k: KernelForest): boolean {
  return treeTargets(k) !== undefined;
}

/**
 * The target each tree adds to, when the compiled form covers the forest: summed or averaged, at most
 * COMPILE_MAX_NODES nodes, no set membership, and one value per leaf (layout 0: target 0) or, with
 * several targets, one weight per leaf and one target per tree (boosted classifiers: a tree per class and
 * round). `undefined` otherwise.
 */
function treeTargets(k: KernelForest): Int32Array | undefined {
  const n = k.nodes.length / NODE_SLOTS;
  if (k.aggregate > 1 || n > COMPILE_MAX_NODES) return undefined;
  if (!k.canonical) for (let j = 0; j < n; j++) if ((k.flags[j]! & FLAG_COMPARE) === 7) return undefined;
  const target = new Int32Array(k.nTrees);
  if (k.layout === 0) return target;
  target.fill(-1);
  for (let t = 0; t < k.nTrees; t++) {
    const end = t + 1 < k.nTrees ? k.roots[t + 1]! : n;
    for (let j = k.roots[t]!; j < end; j++) {
      if (k.nodes[j * NODE_SLOTS + SLOT_CHILD] !== j) continue;
      const leaf = k.nodes[j * NODE_SLOTS + SLOT_LEAF]!;
      const w = k.leafStart[leaf]!;
      if (k.leafStart[leaf + 1]! - w !== 1) return undefined;
      const to = k.leafTargets[w]!;
      if (target[t] !== -1 && target[t] !== to) return undefined;
      target[t] = to;
    }
  }
  return target;
}

/**
 * What the code generation needs to know of the nodes besides their slots. A row's keys are those the
 * `x > t` nodes read: key slot `f` (feature f, NaN lowest) or `width + f` (NaN highest).
 */
interface Shape {
  /** Features 0 to width - 1 are compared. */
  readonly width: number;
  /** height[j]: levels of internal nodes from node j down to its deepest leaf (0 for a leaf). */
  readonly height: Uint16Array;
  /** The key slots read, in the order of a row's keys in memory. */
  readonly keyed: readonly number[];
  /** at[slot]: where that key is in a row's keys (-1: not read). */
  readonly at: Int32Array;
  /** local[slot]: the key's local in the chunk being generated (set per chunk). */
  readonly local: Int32Array;
  /** The target each tree adds to. */
  readonly target: Int32Array;
  /** One value per leaf in the nodes (layout 0), or one weight per leaf in leafWeights. */
  readonly layout: number;
  readonly nTargets: number;
}

function shapeOf(k: KernelForest, target: Int32Array): Shape {
  const n = k.nodes.length / NODE_SLOTS;
  const height = new Uint16Array(n);
  let width = 1;
  // Children are laid after their parents (breadth-first): from the last node up, they are known first.
  for (let j = n - 1; j >= 0; j--) {
    const first = k.nodes[j * NODE_SLOTS + SLOT_CHILD]!;
    if (first === j) continue;
    height[j] = 1 + Math.max(height[first]!, height[first + 1]!);
    width = Math.max(width, k.nodes[j * NODE_SLOTS + SLOT_FEATURE]! + 1);
  }
  const keyed = keySlots(k, width, 0, k.nTrees);
  const at = new Int32Array(2 * width).fill(-1);
  keyed.forEach((slot, i) => {
    at[slot] = i;
  });
  const local = new Int32Array(2 * width).fill(-1);
  return { width, height, keyed, at, local, target, layout: k.layout, nTargets: k.nTargets };
}

/** The key slots the `x > t` nodes of trees [t0, t1) read, ascending. */
function keySlots(k: KernelForest, width: number, t0: number, t1: number): number[] {
  const end = t1 < k.nTrees ? k.roots[t1]! : k.nodes.length / NODE_SLOTS;
  const used = new Set<number>();
  for (let j = k.roots[t0]!; j < end; j++) {
    if (k.nodes[j * NODE_SLOTS + SLOT_CHILD] === j || (k.flags[j]! & FLAG_COMPARE) !== 0) continue;
    const nanSecond = (k.flags[j]! & FLAG_NAN_SECOND) !== 0;
    used.add((nanSecond ? width : 0) + k.nodes[j * NODE_SLOTS + SLOT_FEATURE]!);
  }
  return [...used].sort((a, b) => a - b);
}

/** The targets trees [t0, t1) add to, ascending. */
function chunkTargets(shape: Shape, t0: number, t1: number): number[] {
  return [...new Set(shape.target.subarray(t0, t1))].sort((a, b) => a - b);
}

/** Chunk boundaries: every share start, and a new chunk once a chunk holds about CHUNK_NODES nodes. */
function chunkCuts(k: KernelForest, shares: readonly number[]): number[] {
  const nNodes = k.nodes.length / NODE_SLOTS;
  const starts = new Set(shares);
  const cuts = [0];
  let nodes = 0;
  for (let t = 0; t < k.nTrees; t++) {
    if (t > 0 && (starts.has(t) || nodes >= CHUNK_NODES)) {
      cuts.push(t);
      nodes = 0;
    }
    nodes += (t + 1 < k.nTrees ? k.roots[t + 1]! : nNodes) - k.roots[t]!;
  }
  cuts.push(k.nTrees);
  return cuts;
}

// WebAssembly opcodes used here.
const OP = {
  block: 0x02,
  loop: 0x03,
  if: 0x04,
  else: 0x05,
  end: 0x0b,
  br: 0x0c,
  brIf: 0x0d,
  select: 0x1b,
  i32Load: 0x28,
  f32Load: 0x2a,
  i32Store: 0x36,
  f32Store: 0x38,
  i32Const: 0x41,
  f32Const: 0x43,
  i32Eqz: 0x45,
  i32GtS: 0x4a,
  i32GeS: 0x4e,
  f32Eq: 0x5b,
  f32Ne: 0x5c,
  f32Lt: 0x5d,
  f32Gt: 0x5e,
  f32Le: 0x5f,
  f32Ge: 0x60,
  i32Add: 0x6a,
  i32Mul: 0x6c,
  i32And: 0x71,
  i32Xor: 0x73,
  i32Shl: 0x74,
  i32ShrS: 0x75,
  f32Add: 0x92,
  i32ReinterpretF32: 0xbc,
} as const;
const VOID = 0x40;
const F32 = 0x7d;
const I32 = 0x7f;

/** Comparison opcode of the stated modes 1 to 6 (EQ, NEQ, LEQ, LT, GTE, GT): first child when true. */
const STATED_OP = [0, OP.f32Eq, OP.f32Ne, OP.f32Le, OP.f32Lt, OP.f32Ge, OP.f32Gt] as const;

// keys(x, stride, out, begin, end); locals: r, row, key row, bits (i32), v (f32).
const K_X = 0;
const K_STRIDE = 1;
const K_OUT = 2;
const K_BEGIN = 3;
const K_END = 4;
const K_R = 5;
const K_ROW = 6;
const K_KEYS = 7;
const K_BITS = 8;
const K_V = 9;

/**
 * The keys function: for rows [begin, end), each row's keys (`shape.keyed`, 4 bytes each) from out on:
 * a float's bits `b` (-0 as +0) as `b ^ ((b >> 31) & 0x7fffffff)`, which orders as the floats do, and NaN
 * as the lowest or the highest int32.
 */
function keysBody(shape: Shape): Uint8Array {
  const { width, at } = shape;
  const out = new Bytes();
  out.u32(2).u32(4).byte(I32).u32(1).byte(F32);
  out.get(K_OUT).set(K_KEYS).get(K_BEGIN).set(K_R);
  loop(out, K_R, K_END, () => {
    out.get(K_X).get(K_R).get(K_STRIDE).op(OP.i32Mul).op(OP.i32Add).set(K_ROW);
    for (let f = 0; f < width; f++) {
      if (at[f]! < 0 && at[width + f]! < 0) continue;
      out
        .get(K_ROW)
        .load(OP.f32Load, 4 * f)
        .f32(0)
        .op(OP.f32Add)
        .tee(K_V);
      out.op(OP.i32ReinterpretF32).tee(K_BITS).get(K_BITS).i32(31).op(OP.i32ShrS);
      out.i32(0x7fffffff).op(OP.i32And).op(OP.i32Xor).set(K_BITS);
      for (const [slot, nan] of [
        [f, -0x80000000],
        [width + f, 0x7fffffff],
      ] as const) {
        if (at[slot]! < 0) continue;
        out.get(K_KEYS).i32(nan).get(K_BITS).get(K_V).get(K_V).op(OP.f32Ne).op(OP.select);
        out.store(OP.i32Store, 4 * at[slot]!);
      }
    }
    out.advance(K_KEYS, 4 * shape.keyed.length);
  });
  out.op(OP.end);
  return out.bytes();
}

// A chunk (x, stride, keys, begin, end, scores); locals: r, row, key row, s (i32), then a sum per target
// its trees add to (f32), then the keys of the row its trees read (i32).
const X = 0;
const STRIDE = 1;
const KEYS = 2;
const BEGIN = 3;
const END = 4;
const SCORES = 5;
const R = 6;
const ROW = 7;
const KROW = 8;
const S = 9;
/** The chunk's first sum local. */
const ACC = 10;

/**
 * A chunk's code: for each row r in [begin, end), scores[r * nTargets + target] += the leaves of trees
 * [t0, t1), in order, each to its tree's target. The keys its trees read are loaded into locals once per
 * row, and its targets' sums are kept in locals over the row.
 */
function chunkBody(k: KernelForest, shape: Shape, placed: Placed, t0: number, t1: number): Uint8Array {
  const targets = chunkTargets(shape, t0, t1);
  const acc = new Map(targets.map((t, i) => [t, ACC + i]));
  const slots = keySlots(k, shape.width, t0, t1);
  const key0 = ACC + targets.length;
  shape.local.fill(-1);
  slots.forEach((slot, i) => {
    shape.local[slot] = key0 + i;
  });
  const out = new Bytes();
  out.u32(3).u32(4).byte(I32).u32(targets.length).byte(F32).u32(slots.length).byte(I32);
  out.get(KEYS).set(KROW).get(BEGIN).set(R);
  loop(out, R, END, () => {
    out.get(X).get(R).get(STRIDE).op(OP.i32Mul).op(OP.i32Add).set(ROW);
    out
      .get(SCORES)
      .get(R)
      .i32(4 * shape.nTargets)
      .op(OP.i32Mul)
      .op(OP.i32Add)
      .set(S);
    for (const [t, local] of acc)
      out
        .get(S)
        .load(OP.f32Load, 4 * t)
        .set(local);
    for (const slot of slots)
      out
        .get(KROW)
        .load(OP.i32Load, 4 * shape.at[slot]!)
        .set(shape.local[slot]!);
    for (let t = t0; t < t1; t++) {
      const local = acc.get(shape.target[t]!)!;
      out.get(local);
      tree(out, k, shape, k.roots[t]!, placed);
      out.op(OP.f32Add).set(local);
    }
    for (const [t, local] of acc)
      out
        .get(S)
        .get(local)
        .store(OP.f32Store, 4 * t);
    out.advance(KROW, 4 * shape.keyed.length);
  });
  out.op(OP.end);
  return out.bytes();
}

/** `for (; r < end; r++) body()` over locals r and end. */
function loop(out: Bytes, r: number, end: number, body: () => void): void {
  out.op(OP.block).byte(VOID).op(OP.loop).byte(VOID);
  out.get(r).get(end).op(OP.i32GeS).op(OP.brIf).u32(1);
  body();
  out.get(r).i32(1).op(OP.i32Add).set(r);
  out.op(OP.br).u32(0).op(OP.end).op(OP.end);
}

/** The code of the subtree at node `root`: leaves its value (f32) on the stack. */
function tree(out: Bytes, k: KernelForest, shape: Shape, root: number, placed: Placed): void {
  const { nodes } = k;
  // Iterative, so a deep tree cannot overflow the stack: the second child's code comes first (`if`), then
  // `else` and the first child's, then `end`.
  const stack: number[] = [root];
  while (stack.length > 0) {
    const j = stack.pop()!;
    if (j < 0) {
      out.op(~j === 0 ? OP.else : OP.end);
      continue;
    }
    const p = j * NODE_SLOTS;
    const first = nodes[p + SLOT_CHILD]!;
    if (first === j) {
      if (shape.layout === 0) out.op(OP.f32Const).i32Bits(nodes[p + SLOT_LEAF]!);
      else out.op(OP.f32Const).f32Bits(k.leafWeights, k.leafStart[nodes[p + SLOT_LEAF]!]!);
      continue;
    }
    if (shape.height[j]! <= SELECT_HEIGHT && shape.height[j]! > 1) {
      // The leaf by integer selects (conditional moves), then its value: from the nodes (its index times
      // 16), or from the leaf weights (its weight's index times 4).
      leafIndex(out, k, shape, j);
      if (shape.layout === 0)
        out
          .i32(4)
          .op(OP.i32Shl)
          .load(OP.f32Load, placed.nodes + 4 * SLOT_LEAF);
      else out.i32(2).op(OP.i32Shl).load(OP.f32Load, placed.leafWeights);
      continue;
    }
    second(out, k, shape, j);
    out.op(OP.if).byte(F32);
    stack.push(~1, first, ~0, first + 1);
  }
}

/** The subtree at j as integer selects: its leaf's node index (layout 0) or weight index (i32). */
function leafIndex(out: Bytes, k: KernelForest, shape: Shape, j: number): void {
  const first = k.nodes[j * NODE_SLOTS + SLOT_CHILD]!;
  if (first === j) {
    out.i32(shape.layout === 0 ? j : k.leafStart[k.nodes[j * NODE_SLOTS + SLOT_LEAF]!]!);
    return;
  }
  leafIndex(out, k, shape, first + 1);
  leafIndex(out, k, shape, first);
  second(out, k, shape, j);
  out.op(OP.select);
}

/** A float32's order-preserving int32 key, from its bits (-0 as +0; not NaN). */
function key(bits: number): number {
  const b = bits === (0x80000000 | 0) ? 0 : bits;
  return b ^ ((b >> 31) & 0x7fffffff);
}

/** Pushes node j's condition "the row goes to the second child" (i32). */
function second(out: Bytes, k: KernelForest, shape: Shape, j: number): void {
  const p = j * NODE_SLOTS;
  const feature = k.nodes[p + SLOT_FEATURE]!;
  const th = k.nodes[p + SLOT_THRESHOLD]!;
  const mode = k.flags[j]! & FLAG_COMPARE;
  const nanSecond = (k.flags[j]! & FLAG_NAN_SECOND) !== 0;
  if (mode === 0) {
    // x > t on the keys (t is never NaN here): NaN's key is below t's (first child) or above (second).
    out
      .get(shape.local[(nanSecond ? shape.width : 0) + feature]!)
      .i32(key(th))
      .op(OP.i32GtS);
    return;
  }
  // Stated modes, on the float: second child when the comparison is false, which it is for NaN except
  // with NEQ.
  const x = () => out.get(ROW).load(OP.f32Load, 4 * feature);
  x();
  out.op(OP.f32Const).i32Bits(th).op(STATED_OP[mode]!).op(OP.i32Eqz);
  if (nanSecond !== (mode !== 2)) {
    // NaN's own branch: x == x ? verdict : nanSecond.
    out.i32(nanSecond ? 1 : 0);
    x();
    x();
    out.op(OP.f32Eq).op(OP.select);
  }
}

/** The module: imports the engine's shared memory, exports `keys` (function 0) and chunk c as `c<c>`. */
function moduleBytes(bodies: readonly Uint8Array[]): Uint8Array {
  const out = new Bytes();
  out.raw([0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00]);
  // Type 0: (i32 x5) -> () for keys; type 1: (i32 x6) -> () for the chunks.
  out.section(1, (s) => {
    s.u32(2);
    s.byte(0x60).u32(5).raw([I32, I32, I32, I32, I32]).u32(0);
    s.byte(0x60).u32(6).raw([I32, I32, I32, I32, I32, I32]).u32(0);
  });
  // env.memory: shared, 1 to 65536 pages (as the kernel module's).
  out.section(2, (s) => s.u32(1).name("env").name("memory").byte(0x02).byte(0x03).u32(1).u32(65536));
  out.section(3, (s) => {
    s.u32(bodies.length);
    for (let c = 0; c < bodies.length; c++) s.u32(c === 0 ? 0 : 1);
  });
  out.section(7, (s) => {
    s.u32(bodies.length);
    for (let c = 0; c < bodies.length; c++)
      s.name(c === 0 ? "keys" : `c${c - 1}`)
        .byte(0x00)
        .u32(c);
  });
  out.section(10, (s) => {
    s.u32(bodies.length);
    for (const body of bodies) s.u32(body.length).raw(body);
  });
  return out.bytes();
}

/** A growable byte buffer with WebAssembly's encodings. */
class Bytes {
  private buf = new Uint8Array(1 << 16);
  private at = 0;
  private readonly f32View = new Float32Array(1);
  private readonly i32View = new Int32Array(this.f32View.buffer);
  private readonly u8 = new Uint8Array(this.f32View.buffer);

  byte(b: number): this {
    if (this.at === this.buf.length) this.grow(1);
    this.buf[this.at++] = b;
    return this;
  }

  op(code: number): this {
    return this.byte(code);
  }

  /** `local.get`, `local.set`, `local.tee`. */
  get(local: number): this {
    return this.byte(0x20).u32(local);
  }

  set(local: number): this {
    return this.byte(0x21).u32(local);
  }

  tee(local: number): this {
    return this.byte(0x22).u32(local);
  }

  /** Adds `bytes` to an i32 local (a pointer moved on by a row). */
  advance(local: number, bytes: number): this {
    return this.get(local).i32(bytes).op(OP.i32Add).set(local);
  }

  /** `i32.const`, and `f32.const` of a value. */
  i32(v: number): this {
    return this.byte(OP.i32Const).s32(v);
  }

  f32(v: number): this {
    this.f32View[0] = v;
    return this.byte(OP.f32Const).raw(this.u8);
  }

  /** A 4-byte-aligned load or store at a constant offset. */
  load(code: number, offset: number): this {
    return this.byte(code).u32(2).u32(offset);
  }

  store(code: number, offset: number): this {
    return this.byte(code).u32(2).u32(offset);
  }

  raw(bytes: ArrayLike<number>): this {
    if (this.at + bytes.length > this.buf.length) this.grow(bytes.length);
    this.buf.set(bytes, this.at);
    this.at += bytes.length;
    return this;
  }

  /** Unsigned LEB128. */
  u32(v: number): this {
    let x = v >>> 0;
    do {
      const b = x & 0x7f;
      x >>>= 7;
      this.byte(x === 0 ? b : b | 0x80);
    } while (x !== 0);
    return this;
  }

  /** Signed LEB128. */
  s32(v: number): this {
    let x = v | 0;
    for (;;) {
      const b = x & 0x7f;
      x >>= 7;
      if ((x === 0 && (b & 0x40) === 0) || (x === -1 && (b & 0x40) !== 0)) return this.byte(b);
      this.byte(b | 0x80);
    }
  }

  /** A float32 constant from its bits (little-endian). */
  i32Bits(bits: number): this {
    this.i32View[0] = bits;
    return this.raw(this.u8);
  }

  /** A float32 constant: element i of a float32 array, its bits as they are. */
  f32Bits(values: Float32Array, i: number): this {
    return this.raw(new Uint8Array(values.buffer, values.byteOffset + 4 * i, 4));
  }

  name(text: string): this {
    const bytes = Buffer.from(text, "utf8");
    return this.u32(bytes.length).raw(bytes);
  }

  section(id: number, fill: (s: Bytes) => void): this {
    const s = new Bytes();
    fill(s);
    const bytes = s.bytes();
    return this.byte(id).u32(bytes.length).raw(bytes);
  }

  bytes(): Uint8Array {
    return this.buf.subarray(0, this.at);
  }

  private grow(need: number): void {
    const next = new Uint8Array(Math.max(this.buf.length * 2, this.at + need));
    next.set(this.buf.subarray(0, this.at));
    this.buf = next;
  }
}
