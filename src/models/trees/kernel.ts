/**
 * The tree-ensemble kernel: pure functions over typed arrays, with no imports and no closures, so that the
 * worker threads run the very same code (they receive it as source text, see `workers.ts`); the main
 * thread runs it too, for small batches.
 *
 * Node layout (see `forest/layout.ts`): node `n` is `nodes[4n..4n+3]` = feature, first child, threshold
 * (float32 bits), leaf value (float32 bits) or leaf ordinal. The children of a node are adjacent: the walk goes to
 * `first + 1` when the comparison says so, else to `first`. Leaves point to themselves with a threshold of
 * +Infinity, so that walking a tree for its full depth ends on the leaf whatever the row's path length:
 * the inner loop has no exit test.
 *
 * `flags[n]`: bits 0-2 the comparison (0: go to the second child when `x > threshold`, the form every
 * `BRANCH_LEQ`/`LT`/`GTE`/`GT` node is rewritten to; 1 `EQ`, 2 `NEQ`, 3 `LEQ`, 4 `LT`, 5 `GTE`, 6 `GT`
 * as ONNX states them, 7 opset 5's set membership; first child true), bit 3: a NaN goes to the second
 * child.
 */

/** The shared arrays and sizes a kernel call needs. */
export interface KernelForest {
  /** 0: one value per leaf and one target; 1: sparse (target, weight) lists per leaf. */
  readonly layout: number;
  /** 0 SUM, 1 AVERAGE, 2 MIN, 3 MAX. */
  readonly aggregate: number;
  /** Whether every node compares in the `x > threshold` form (the fast walk applies to rows without NaN). */
  readonly canonical: boolean;
  readonly nTargets: number;
  readonly nTrees: number;
  readonly nodes: Int32Array;
  readonly values: Float32Array;
  readonly flags: Uint8Array;
  readonly roots: Int32Array;
  readonly depths: Int32Array;
  readonly leafStart: Int32Array;
  readonly leafTargets: Int32Array;
  readonly leafWeights: Float32Array;
  /** The sets of `BRANCH_MEMBER` nodes (such a node's slots 2 and 3 hold where its set starts and ends). */
  readonly members: Float32Array;
}

/**
 * Adds the leaves of trees `[t0, t1)` for rows `[begin, end)` of a row-major `[n, width]` float32 matrix
 * into `scores` (row-major `[n, nTargets]`, float32 sums in tree order, or minima/maxima) and `has`
 * (whether a target got a weight). Tree by tree, the rows walk in blocks of `pos.length`, in lockstep,
 * one level at a time, for memory-level parallelism.
 */
export function scoreRows(
  f: KernelForest,
  x: Float32Array,
  width: number,
  begin: number,
  end: number,
  scores: Float32Array,
  has: Uint8Array,
  pos: Int32Array,
  t0: number,
  t1: number,
): void {
  const nodes = f.nodes;
  const values = f.values;
  const flags = f.flags;
  const block = pos.length;
  const E = f.nTargets;
  for (let b = begin; b < end; b += block) {
    const m = Math.min(end, b + block) - b;
    let fast = f.canonical;
    if (fast) {
      for (let i = b * width, e = (b + m) * width; i < e; i++) {
        const v = x[i]!;
        if (Number.isNaN(v)) {
          fast = false;
          break;
        }
      }
    }
    for (let t = t0; t < t1; t++) {
      const root = f.roots[t]!;
      const depth = f.depths[t]!;
      for (let i = 0; i < m; i++) pos[i] = root;
      if (fast) {
        for (let d = 0; d < depth; d++) {
          for (let i = 0, base = b * width; i < m; i++, base += width) {
            const p = pos[i]! << 2;
            pos[i] = nodes[p + 1]! + (x[base + nodes[p]!]! > values[p + 2]! ? 1 : 0);
          }
        }
      } else {
        for (let d = 0; d < depth; d++) {
          for (let i = 0, base = b * width; i < m; i++, base += width) {
            const n = pos[i]!;
            const p = n << 2;
            const v = x[base + nodes[p]!]!;
            const fl = flags[n]!;
            const th = values[p + 2]!;
            let right: boolean;
            if (Number.isNaN(v)) right = (fl & 8) !== 0;
            else {
              const mode = fl & 7;
              if (mode === 0) right = v > th;
              else if (mode === 1) right = !(v === th);
              else if (mode === 2) right = !(v !== th);
              else if (mode === 3) right = !(v <= th);
              else if (mode === 4) right = !(v < th);
              else if (mode === 5) right = !(v >= th);
              else if (mode === 6) right = !(v > th);
              else {
                // 7: set membership as ONNX Runtime 1.30 tests it: sets of integers within [0, 30]
                // (stored with a negative start) hold exactly their values; other sets hold the value
                // cast to int32 as C++ does on x64 (truncated; out of range: INT32_MIN).
                const exact = nodes[p + 2]! < 0;
                const iv = exact
                  ? Number.isInteger(v)
                    ? v
                    : Number.NaN
                  : v >= -2147483648 && v < 2147483648
                    ? Math.trunc(v)
                    : -2147483648;
                right = true;
                const start = exact ? ~nodes[p + 2]! : nodes[p + 2]!;
                for (let k = start, ke = nodes[p + 3]!; k < ke; k++) {
                  if (f.members[k] === iv) {
                    right = false;
                    break;
                  }
                }
              }
            }
            pos[i] = nodes[p + 1]! + (right ? 1 : 0);
          }
        }
      }
      if (f.layout === 0) {
        const agg = f.aggregate;
        for (let i = 0; i < m; i++) {
          const w = values[(pos[i]! << 2) + 3]!;
          const r = b + i;
          if (agg <= 1) scores[r] = scores[r]! + w;
          else if (has[r] === 0 || (agg === 2 ? w < scores[r]! : w > scores[r]!)) scores[r] = w;
          has[r] = 1;
        }
      } else {
        const agg = f.aggregate;
        for (let i = 0; i < m; i++) {
          const leaf = nodes[(pos[i]! << 2) + 3]!;
          const row = (b + i) * E;
          for (let k = f.leafStart[leaf]!, ke = f.leafStart[leaf + 1]!; k < ke; k++) {
            const j = row + f.leafTargets[k]!;
            const w = f.leafWeights[k]!;
            if (agg <= 1) scores[j] = scores[j]! + w;
            else if (has[j] === 0 || (agg === 2 ? w < scores[j]! : w > scores[j]!)) scores[j] = w;
            has[j] = 1;
          }
        }
      }
    }
  }
}

/** The WebAssembly kernel's exports (`wasm/trees.ts`), by their arguments: offsets in the shared memory. */
export interface KernelWasm {
  firstNaN(x: number, count: number): number;
  sumSingle(...offsetsAndCounts: number[]): void;
  sumSparse(...offsetsAndCounts: number[]): void;
}

/** A forest's compiled trees (see `compiled.ts`), instantiated on the thread that runs them. */
export interface CompiledChunks {
  /** The integer keys of rows [begin, end) of the matrix at x, at out; offsets in bytes. */
  readonly keys: (x: number, stride: number, out: number, begin: number, end: number) => void;
  /**
   * Chunk c adds trees [cuts[c], cuts[c + 1]) to scores[r * nTargets + target] for rows [begin, end),
   * their keys at keys.
   */
  readonly chunks: readonly ((
    x: number,
    stride: number,
    keys: number,
    begin: number,
    end: number,
    scores: number,
  ) => void)[];
  readonly cuts: readonly number[];
  /** The targets chunk c adds to, and the scores per row. */
  readonly targets: readonly (readonly number[])[];
  readonly nTargets: number;
}

/**
 * A compiled forest's chunks instantiated on the engine's memory (on the main thread, and in each worker,
 * which receives this function as source text): its exports `keys`, `c0`, `c1`, ... by role.
 */
export function chunksOf(
  compiled: {
    readonly module: object;
    readonly cuts: readonly number[];
    readonly targets: readonly (readonly number[])[];
    readonly nTargets: number;
  },
  memory: object,
): CompiledChunks {
  const W = (
    globalThis as unknown as { WebAssembly: { Instance: new (m: object, i: object) => { exports: object } } }
  ).WebAssembly;
  const exports = new W.Instance(compiled.module, { env: { memory } }).exports as Record<
    string,
    CompiledChunks["chunks"][number]
  >;
  return {
    keys: exports.keys as unknown as CompiledChunks["keys"],
    chunks: compiled.cuts.slice(0, -1).map((_, c) => exports[`c${c}`]!),
    cuts: compiled.cuts,
    targets: compiled.targets,
    nTargets: compiled.nTargets,
  };
}

/**
 * One thread's part of a batch for compiled trees: rows [begin, end) through every share of the trees,
 * each share's sums in its own partial scores (as when each share is walked by its own thread: the same
 * bits, whichever thread scores which rows).
 */
export interface CompiledJob {
  readonly x: number;
  readonly width: number;
  readonly begin: number;
  readonly end: number;
  /** Room for the keys of rows [begin, end), this thread's own. */
  readonly keys: number;
  readonly shares: readonly {
    readonly t0: number;
    readonly t1: number;
    readonly scores: number;
    readonly has: number;
  }[];
}

/**
 * Scores a {@link CompiledJob}: the keys of its rows, then all its rows through each chunk in turn (a
 * chunk's branches are learnt best by the branch predictor over many rows in a row: 65,536 rows a call
 * ran 1.5x faster than 512). Runs in a worker thread or in the main thread (the workers receive it as
 * source text).
 */
export function scoreCompiled(c: CompiledChunks, buffer: ArrayBufferLike, job: CompiledJob): void {
  const stride = job.width * 4;
  const { begin, end } = job;
  c.keys(job.x, stride, job.keys, begin, end);
  for (const share of job.shares) {
    const c0 = c.cuts.indexOf(share.t0);
    const c1 = c.cuts.indexOf(share.t1);
    if (c0 < 0 || c1 < c0) throw new Error(`trees [${share.t0}, ${share.t1}) are not whole compiled chunks`);
    const E = c.nTargets;
    new Float32Array(buffer, share.scores + 4 * begin * E, (end - begin) * E).fill(0);
    // Every row gets a weight for each target of the share's trees, none for the others.
    const has = new Uint8Array(buffer, share.has + begin * E, (end - begin) * E);
    if (E === 1) has.fill(1);
    else {
      const weighed = new Uint8Array(E);
      for (let q = c0; q < c1; q++) for (const t of c.targets[q]!) weighed[t] = 1;
      for (let i = 0; i < has.length; i++) has[i] = weighed[i % E]!;
    }
    for (let q = c0; q < c1; q++) c.chunks[q]!(job.x, stride, job.keys, begin, end, share.scores);
  }
}

/** One share of a batch: trees `[t0, t1)` over the `n` rows at `x`; byte offsets in the shared memory. */
export interface Share {
  readonly x: number;
  readonly width: number;
  readonly n: number;
  readonly t0: number;
  readonly t1: number;
  /** Where the share's partial scores (`n * nTargets` float32) and their flags go. */
  readonly scores: number;
  readonly has: number;
  /** Room for `sub` int32 positions, and the rows walking a tree in lockstep. */
  readonly pos: number;
  readonly sub: number;
}

/** Where a forest's arrays are (the part of `Placed` the kernels read). */
export interface KernelPlaced {
  readonly layout: number;
  readonly aggregate: number;
  readonly canonical: boolean;
  readonly nTargets: number;
  readonly nTrees: number;
  readonly nodeCount: number;
  readonly nodes: number;
  readonly roots: number;
  readonly depths: number;
  readonly leafStart: number;
  readonly leafTargets: number;
  readonly leafWeights: number;
}

/**
 * Scores one share of a batch into its partial scores, in a worker thread or in the main thread (the same
 * code: the workers receive it as source text). Runs of sub-blocks without NaN on a forest of
 * `x > threshold` nodes go to WebAssembly in one call; a sub-block with a NaN, or any other forest, to
 * {@link scoreRows}, which implements every mode. Most batches have no NaN at all: one SIMD scan says so.
 */
export function scoreShare(
  P: KernelPlaced,
  forest: KernelForest,
  wasm: KernelWasm,
  buffer: ArrayBufferLike,
  m: Share,
): void {
  const n = m.n;
  const size = n * P.nTargets;
  const x = new Float32Array(buffer, m.x, n * m.width);
  const scores = new Float32Array(buffer, m.scores, size).fill(0);
  const has = new Uint8Array(buffer, m.has, size).fill(0);
  const pos = new Int32Array(buffer, m.pos, m.sub);
  const fast = P.aggregate <= 1 && P.canonical;
  const clean = (from: number, to: number): boolean => {
    for (let i = from * m.width, end = to * m.width; i < end; i++) if (Number.isNaN(x[i]!)) return false;
    return true;
  };
  const noNaN = fast && wasm.firstNaN(m.x, n * m.width) === -1;
  let r = 0;
  while (r < n) {
    let e = noNaN ? n : r;
    while (fast && e < n && clean(e, Math.min(n, e + m.sub))) e = Math.min(n, e + m.sub);
    // Trees [t0, t1) over rows [r, e): the arguments both WebAssembly walks take first.
    const walk = [
      P.nodes,
      P.roots,
      P.depths,
      P.nTrees,
      P.nodeCount,
      m.t0,
      m.t1,
      m.x,
      m.width,
      r,
      e,
      m.scores,
    ];
    if (e > r && P.layout === 0) {
      wasm.sumSingle(...walk, m.pos, m.sub);
      has.fill(1, r, e);
    } else if (e > r) {
      wasm.sumSparse(...walk, m.has, m.pos, m.sub, P.leafStart, P.leafTargets, P.leafWeights, P.nTargets);
    }
    if (e < n) {
      const to = fast ? Math.min(n, e + m.sub) : n;
      scoreRows(forest, x, m.width, e, to, scores, has, pos, m.t0, m.t1);
      r = to;
    } else r = e;
  }
}
