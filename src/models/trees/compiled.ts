/**
 * Trees compiled to WebAssembly: each tree becomes nested `if`/`else` code with its thresholds as
 * constants, so that a row's walk is branches over the row's own values with no node loads at all (what
 * lleaves does with LLVM, here with the compiler V8 already has). Trees are grouped in chunks, one function
 * each, that add their leaves to a score per row, in tree order: the same float32 sums, bit for bit, as the
 * node-walking kernel (`kernel.ts`, `wasm/trees.ts`).
 *
 * What makes it fast (measured on a 500-tree LightGBM model, 1M rows, one thread: the node walk 4.4 s,
 * nested branches on float compares 3.0 s, this 1.7 s):
 * - Comparisons on integers: a float32's bits, sign-folded, order as the floats do (-0 taken as +0), so a
 *   node is one `cmp` with an immediate. The keys of a block of rows are computed once (`keys`), with
 *   NaN below every value (for nodes sending NaN to the first child) and above (to the second).
 * - The bottom levels without branches: a subtree of height at most {@link SELECT_HEIGHT} picks its leaf's
 *   index with integer selects (conditional moves) and loads the leaf's value from the forest's nodes;
 *   those splits are the ones a branch predictor guesses worst.
 * - Blocks of rows through a chunk of trees (their code fits the instruction cache, the block's keys L1).
 *
 * Compiled: forests of one value per leaf (layout 0), summed or averaged, whose nodes compare with a
 * threshold (any of ONNX's `BRANCH_*` modes but set membership), rows with NaN included (each node's NaN
 * branch is compiled in). Other forests, and forests too large to be worth compiling, walk their nodes.
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
import { Wasm } from "./memory.js";

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
   * trees [cuts[c], cuts[c + 1]) to the float32 scores[r] of rows [begin, end), whose keys are at keys.
   */
  readonly module: object;
  /** `cuts[c]` is chunk c's first tree; the last entry is the number of trees. */
  readonly cuts: readonly number[];
  /** Bytes of a row's keys. */
  readonly keyBytes: number;
}

/**
 * Compiles a forest's trees, in chunks that never straddle one of `shares` (the tree indexes where the
 * engine's threads' shares start), so that every share is a run of whole chunks. `nodesAt` is where the
 * forest's nodes are in the shared memory (the selects read leaf values there). Returns `undefined` for a
 * forest the compiled form does not cover.
 *
 * @example
 * ```ts
 * const compiled = compileTrees(forest.kernel, forest.placed.nodes, [0, 250, 500]);
 * ```
 */
export function compileTrees(
  k: KernelForest,
  nodesAt: number,
  shares: readonly number[],
): CompiledTrees | undefined {
  if (!compilable(k)) return undefined;
  const shape = shapeOf(k);
  const cuts = chunkCuts(k, shares);
  const bodies = cuts.slice(0, -1).map((t0, c) => chunkBody(k, shape, nodesAt, t0, cuts[c + 1]!));
  const module = new Wasm.Module(moduleBytes([keysBody(shape.width), ...bodies]));
  return { module, cuts, keyBytes: 8 * shape.width };
}

/** Whether the compiled form covers the forest. */
export function compilable(k: KernelForest): boolean {
  if (k.layout !== 0 || k.aggregate > 1 || k.nodes.length / NODE_SLOTS > COMPILE_MAX_NODES) return false;
  if (k.canonical) return true;
  for (let j = 0; j < k.flags.length; j++) if ((k.flags[j]! & FLAG_COMPARE) === 7) return false;
  return true;
}

/** What the code generation needs to know of the nodes besides their slots. */
interface Shape {
  /** Features 0 to width - 1 are compared. */
  readonly width: number;
  /** height[j]: levels of internal nodes from node j down to its deepest leaf (0 for a leaf). */
  readonly height: Uint16Array;
}

function shapeOf(k: KernelForest): Shape {
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
  return { width, height };
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
  localGet: 0x20,
  localSet: 0x21,
  localTee: 0x22,
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
  i32Sub: 0x6b,
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
 * The keys function: for each row and feature f, at out + (r - begin) * 8 * width: the key with NaN
 * lowest at 4f, with NaN highest at 4 * (width + f).
 */
function keysBody(width: number): Uint8Array {
  const out = new Bytes();
  out.u32(2).u32(4).byte(I32).u32(1).byte(F32);
  out.op(OP.localGet).u32(K_OUT).op(OP.localSet).u32(K_KEYS);
  out.op(OP.localGet).u32(K_BEGIN).op(OP.localSet).u32(K_R);
  loop(out, K_R, K_END, () => {
    out.op(OP.localGet).u32(K_X).op(OP.localGet).u32(K_R).op(OP.localGet).u32(K_STRIDE);
    out.op(OP.i32Mul).op(OP.i32Add).op(OP.localSet).u32(K_ROW);
    for (let f = 0; f < width; f++) {
      // v = x + 0 (-0 as +0); bits ^ ((bits >> 31) & 0x7fffffff) orders as the floats.
      out
        .op(OP.localGet)
        .u32(K_ROW)
        .op(OP.f32Load)
        .u32(2)
        .u32(4 * f);
      out.op(OP.f32Const).i32Bits(0).op(OP.f32Add).op(OP.localTee).u32(K_V);
      out.op(OP.i32ReinterpretF32).op(OP.localTee).u32(K_BITS);
      out.op(OP.localGet).u32(K_BITS).op(OP.i32Const).s32(31).op(OP.i32ShrS);
      out.op(OP.i32Const).s32(0x7fffffff).op(OP.i32And).op(OP.i32Xor).op(OP.localSet).u32(K_BITS);
      for (const [nan, at] of [
        [-0x80000000, 4 * f],
        [0x7fffffff, 4 * (width + f)],
      ] as const) {
        out.op(OP.localGet).u32(K_KEYS);
        out.op(OP.i32Const).s32(nan).op(OP.localGet).u32(K_BITS);
        out.op(OP.localGet).u32(K_V).op(OP.localGet).u32(K_V).op(OP.f32Ne).op(OP.select);
        out.op(OP.i32Store).u32(2).u32(at);
      }
    }
    out
      .op(OP.localGet)
      .u32(K_KEYS)
      .op(OP.i32Const)
      .s32(8 * width)
      .op(OP.i32Add)
      .op(OP.localSet)
      .u32(K_KEYS);
  });
  out.op(OP.end);
  return out.bytes();
}

// A chunk (x, stride, keys, begin, end, scores); locals: r, row, key row, s (i32), acc (f32), then the
// row's keys (i32).
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
const ACC = 10;
/** The first of the row's keys (2 * width i32 locals, as in the keys' row). */
const KEY = 11;

/**
 * A chunk's code: for each row r in [begin, end), scores[r] += the leaves of trees [t0, t1), in order.
 */
function chunkBody(k: KernelForest, shape: Shape, nodesAt: number, t0: number, t1: number): Uint8Array {
  const out = new Bytes();
  out
    .u32(3)
    .u32(4)
    .byte(I32)
    .u32(1)
    .byte(F32)
    .u32(2 * shape.width)
    .byte(I32);
  out.op(OP.localGet).u32(KEYS).op(OP.localSet).u32(KROW);
  out.op(OP.localGet).u32(BEGIN).op(OP.localSet).u32(R);
  loop(out, R, END, () => {
    out.op(OP.localGet).u32(X).op(OP.localGet).u32(R).op(OP.localGet).u32(STRIDE);
    out.op(OP.i32Mul).op(OP.i32Add).op(OP.localSet).u32(ROW);
    out.op(OP.localGet).u32(SCORES).op(OP.localGet).u32(R).op(OP.i32Const).s32(4).op(OP.i32Mul).op(OP.i32Add);
    out.op(OP.localTee).u32(S).op(OP.f32Load).u32(2).u32(0).op(OP.localSet).u32(ACC);
    for (const q of usedKeys(k, shape, t0, t1)) {
      out
        .op(OP.localGet)
        .u32(KROW)
        .op(OP.i32Load)
        .u32(2)
        .u32(4 * q)
        .op(OP.localSet)
        .u32(KEY + q);
    }
    for (let t = t0; t < t1; t++) {
      out.op(OP.localGet).u32(ACC);
      tree(out, k, shape, k.roots[t]!, nodesAt);
      out.op(OP.f32Add).op(OP.localSet).u32(ACC);
    }
    out.op(OP.localGet).u32(S).op(OP.localGet).u32(ACC).op(OP.f32Store).u32(2).u32(0);
    out
      .op(OP.localGet)
      .u32(KROW)
      .op(OP.i32Const)
      .s32(8 * shape.width)
      .op(OP.i32Add)
      .op(OP.localSet)
      .u32(KROW);
  });
  out.op(OP.end);
  return out.bytes();
}

/** Where a node's key is in a row's keys: NaN lowest at f, highest at width + f. */
function keySlot(shape: Shape, feature: number, nanSecond: boolean): number {
  return nanSecond ? shape.width + feature : feature;
}

/** The key slots the `x > t` nodes of trees [t0, t1) read, ascending. */
function usedKeys(k: KernelForest, shape: Shape, t0: number, t1: number): number[] {
  const end = t1 < k.nTrees ? k.roots[t1]! : k.nodes.length / NODE_SLOTS;
  const used = new Set<number>();
  for (let j = k.roots[t0]!; j < end; j++) {
    if (k.nodes[j * NODE_SLOTS + SLOT_CHILD] === j || (k.flags[j]! & FLAG_COMPARE) !== 0) continue;
    used.add(keySlot(shape, k.nodes[j * NODE_SLOTS + SLOT_FEATURE]!, (k.flags[j]! & FLAG_NAN_SECOND) !== 0));
  }
  return [...used].sort((a, b) => a - b);
}

/** `for (; r < end; r++) body()` over locals r and end. */
function loop(out: Bytes, r: number, end: number, body: () => void): void {
  out.op(OP.block).byte(VOID).op(OP.loop).byte(VOID);
  out.op(OP.localGet).u32(r).op(OP.localGet).u32(end).op(OP.i32GeS).op(OP.brIf).u32(1);
  body();
  out.op(OP.localGet).u32(r).op(OP.i32Const).s32(1).op(OP.i32Add).op(OP.localSet).u32(r);
  out.op(OP.br).u32(0).op(OP.end).op(OP.end);
}

/** The code of the subtree at node `root`: leaves its value (f32) on the stack. */
function tree(out: Bytes, k: KernelForest, shape: Shape, root: number, nodesAt: number): void {
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
      out.op(OP.f32Const).i32Bits(nodes[p + SLOT_LEAF]!);
      continue;
    }
    if (shape.height[j]! <= SELECT_HEIGHT && shape.height[j]! > 1) {
      // The leaf's node index by integer selects (conditional moves), then its value from the nodes.
      leafIndex(out, k, shape, j);
      out
        .op(OP.i32Const)
        .s32(4)
        .op(OP.i32Shl)
        .op(OP.f32Load)
        .u32(2)
        .u32(nodesAt + 4 * SLOT_LEAF);
      continue;
    }
    second(out, k, shape, j);
    out.op(OP.if).byte(F32);
    stack.push(~1, first, ~0, first + 1);
  }
}

/** The subtree at j as integer selects: its leaf's node index (i32). */
function leafIndex(out: Bytes, k: KernelForest, shape: Shape, j: number): void {
  const first = k.nodes[j * NODE_SLOTS + SLOT_CHILD]!;
  if (first === j) {
    out.op(OP.i32Const).s32(j);
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
    out.op(OP.localGet).u32(KEY + keySlot(shape, feature, nanSecond));
    out.op(OP.i32Const).s32(key(th)).op(OP.i32GtS);
    return;
  }
  // Stated modes, on the float: second child when the comparison is false, which it is for NaN except
  // with NEQ.
  const load = () =>
    out
      .op(OP.localGet)
      .u32(ROW)
      .op(OP.f32Load)
      .u32(2)
      .u32(4 * feature);
  load();
  out.op(OP.f32Const).i32Bits(th).op(STATED_OP[mode]!).op(OP.i32Eqz);
  if (nanSecond !== (mode !== 2)) {
    // NaN's own branch: x == x ? verdict : nanSecond.
    out.op(OP.i32Const).s32(nanSecond ? 1 : 0);
    load();
    load();
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
  private readonly f32 = new Float32Array(1);
  private readonly i32 = new Int32Array(this.f32.buffer);
  private readonly u8 = new Uint8Array(this.f32.buffer);

  byte(b: number): this {
    if (this.at === this.buf.length) this.grow(1);
    this.buf[this.at++] = b;
    return this;
  }

  op(code: number): this {
    return this.byte(code);
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
    this.i32[0] = bits;
    return this.raw(this.u8);
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
