import { Worker } from "node:worker_threads";
import type { Forest } from "./forest/index.js";
import { finishRows, type KernelFinish, scoreRows } from "./kernel.js";
import { KERNEL_WASM } from "./kernel-wasm.js";
import { align, PAGE, type Placed, Wasm, type WasmMemory } from "./memory.js";

/** Rows that walk a tree in lockstep: enough for memory-level parallelism, few enough for L1. */
const SUB = 64;
// The worker is plain JavaScript evaluated from a string: the kernel functions' own source (compiled
// from kernel.ts, or transformed by the test runner) and a message loop. The forest and the batches are
// in one shared WebAssembly memory; a message carries only offsets. Blocks of rows without NaN on a
// forest of "x > threshold" nodes go to the WebAssembly kernel; others to the JavaScript one, which
// implements every mode.
// A worker starts before its forest is known (its thread boots while the model is read): the first
// message gives it the forest, and it answers "ready".
const WORKER = `
const { parentPort } = require("node:worker_threads");
const scoreRows = ${scoreRows.toString()};
parentPort.once("message", (init) => {
  try {
    serve(init);
    parentPort.postMessage({ ready: true });
  } catch (error) {
    parentPort.postMessage({ ready: false, error: String(error && error.stack || error) });
  }
});
function serve({ placed: P, memory, module }) {
const wasm = new WebAssembly.Instance(module, { env: { memory, abort() { throw new Error("wasm abort"); } } }).exports;
const buf = memory.buffer;
const forest = {
  layout: P.layout, aggregate: P.aggregate, canonical: P.canonical, nTargets: P.nTargets, nTrees: P.nTrees,
  nodes: new Int32Array(buf, P.nodes, P.nodeCount * 4),
  values: new Float32Array(buf, P.nodes, P.nodeCount * 4),
  flags: new Uint8Array(buf, P.flags, P.nodeCount),
  roots: new Int32Array(buf, P.roots, P.nTrees),
  depths: new Int32Array(buf, P.depths, P.nTrees),
  leafStart: new Int32Array(buf, P.leafStart, P.leafCount + 1),
  leafTargets: new Int32Array(buf, P.leafTargets, P.weightCount),
  leafWeights: new Float32Array(buf, P.leafWeights, P.weightCount),
  members: new Float32Array(buf, P.members, P.memberCount),
};
const fast = P.aggregate <= 1 && P.canonical;
const clean = (x, width, from, to) => {
  for (let i = from * width, end = to * width; i < end; i++) if (x[i] !== x[i]) return false;
  return true;
};
parentPort.on("message", (m) => {
  try {
    const b = memory.buffer;
    const n = m.n;
    const size = n * P.nTargets;
    const x = new Float32Array(b, m.x, n * m.width);
    const scores = new Float32Array(b, m.scores, size).fill(0);
    const has = new Uint8Array(b, m.has, size).fill(0);
    const pos = new Int32Array(b, m.pos, ${SUB});
    // Runs of sub-blocks without NaN go to WebAssembly in one call; a sub-block with a NaN to JavaScript.
    // Most batches have no NaN at all: one SIMD scan says so.
    const noNaN = fast && wasm.firstNaN(m.x, n * m.width) === -1;
    let r = 0;
    while (r < n) {
      let e = noNaN ? n : r;
      while (fast && e < n && clean(x, m.width, e, Math.min(n, e + ${SUB}))) e = Math.min(n, e + ${SUB});
      if (e > r && P.layout === 0) {
        wasm.sumSingle(P.nodes, P.roots, P.depths, P.nTrees, P.nodeCount, m.t0, m.t1, m.x, m.width, r, e, m.scores, m.pos, ${SUB});
        has.fill(1, r, e);
      } else if (e > r) {
        wasm.sumSparse(P.nodes, P.roots, P.depths, P.nTrees, P.nodeCount, m.t0, m.t1, m.x, m.width, r, e, m.scores, m.has, m.pos, ${SUB},
          P.leafStart, P.leafTargets, P.leafWeights, P.nTargets);
      }
      if (e < n) {
        const to = fast ? Math.min(n, e + ${SUB}) : n;
        scoreRows(forest, x, m.width, e, to, scores, has, pos, m.t0, m.t1);
        r = to;
      } else r = e;
    }
    parentPort.postMessage({ id: m.id });
  } catch (error) {
    parentPort.postMessage({ id: m.id, error: String(error && error.stack || error) });
  }
});
}
`;

/** Workers started before their forest is known (see {@link TreePool.start}). */
export interface StartingPool {
  /** Gives the workers their forest; resolves once each is ready. */
  attach(forest: Forest): Promise<TreePool>;
  /** Stops the workers (when no forest comes). */
  cancel(): Promise<void>;
}

/** Resolves with the error that ends a worker, if one does. */
function failure(worker: Worker): Promise<Error> {
  return new Promise((resolve) => {
    worker.once("error", resolve);
    worker.once("exit", (code) => resolve(new Error(`a tree engine worker exited (code ${code})`)));
  });
}

/** One batch's results: scores `[n, nTargets]` and, for classifiers, label indexes (see `finishRows`). */
export interface TreeResult {
  readonly z: Float32Array;
  readonly label: Int32Array;
}

/**
 * Worker threads running a {@link Forest} over batches in shared memory: each worker walks a share of the
 * trees over the whole batch (a tree is read into cache once per batch), and the partial scores are merged
 * in the order ONNX Runtime merges its threads'. Calls are served one at a time; after a worker failure,
 * every call fails.
 *
 * @example
 * ```ts
 * const pool = await TreePool.create(forest, 2);
 * const { z } = await pool.run(x, n, width);
 * await pool.close();
 * ```
 */
export class TreePool {
  private nextId = 1;
  private readonly waiting = new Map<number, { resolve: () => void; reject: (e: Error) => void }>();
  private queue: Promise<unknown> = Promise.resolve();
  private failure: Error | undefined;

  private constructor(
    private readonly placed: Placed,
    private readonly finish: KernelFinish,
    private readonly memory: WasmMemory,
    private readonly workers: readonly Worker[],
  ) {
    for (const worker of workers) {
      worker.on("message", (reply: { id: number; error?: string; ready?: boolean }) => {
        if (reply.ready) return;
        const waiter = this.waiting.get(reply.id);
        this.waiting.delete(reply.id);
        if (reply.error === undefined) waiter?.resolve();
        else waiter?.reject(new Error(`tree engine worker failed: ${reply.error}`));
      });
      worker.on("error", (error) => this.fail(error));
      worker.on("exit", (code) => {
        if (code !== 0) this.fail(new Error(`a tree engine worker exited (code ${code})`));
      });
    }
  }

  /** Starts `threads` workers on the forest's shared memory. */
  static create(forest: Forest, threads: number): Promise<TreePool> {
    return TreePool.start(threads).attach(forest);
  }

  /**
   * Starts `threads` workers now, before their forest is known: their threads boot while the model is
   * read or compiled. {@link StartingPool.attach} gives them the forest; {@link StartingPool.cancel}
   * stops them when there is none.
   */
  static start(threads: number): StartingPool {
    const workers = Array.from({ length: Math.max(1, threads) }, () => new Worker(WORKER, { eval: true }));
    const stop = () => Promise.all(workers.map((worker) => worker.terminate())).then(() => undefined);
    // A worker that dies before it is given its forest must not be an unhandled error.
    const early = workers.map((worker) => failure(worker));
    return {
      attach: async (forest) => {
        const { placed, memory } = forest;
        const module = new Wasm.Module(Buffer.from(KERNEL_WASM, "base64"));
        try {
          // Ready once the worker has instantiated the WebAssembly module on the forest's memory.
          await Promise.all(
            workers.map((worker, i) => {
              const ready = new Promise<void>((resolve, reject) => {
                worker.once("message", (reply: { ready: boolean; error?: string }) =>
                  reply.ready ? resolve() : reject(new Error(`tree engine worker failed: ${reply.error}`)),
                );
              });
              worker.postMessage({ placed, memory, module });
              return Promise.race([ready, early[i]!.then((error) => Promise.reject(error))]);
            }),
          );
        } catch (error) {
          await stop();
          throw error;
        }
        return new TreePool(placed, forest.finish, memory, workers);
      },
      cancel: stop,
    };
  }

  /** The number of worker threads. */
  get threads(): number {
    return this.workers.length;
  }

  /** Bytes of the shared memory (forest and batch buffers). */
  get bytes(): number {
    return this.memory.buffer.byteLength;
  }

  /**
   * Scores `n` rows of a row-major `[n, width]` float32 matrix. The results are fresh arrays the caller
   * owns.
   */
  run(x: Float32Array, n: number, width: number): Promise<TreeResult> {
    const result = this.queue.then(() => this.runNow(x, n, width));
    this.queue = result.catch(() => undefined);
    return result;
  }

  /** Stops the workers. */
  async close(): Promise<void> {
    await Promise.all(this.workers.map((worker) => worker.terminate()));
  }

  private async runNow(x: Float32Array, n: number, width: number): Promise<TreeResult> {
    if (this.failure) throw this.failure;
    const P = this.placed;
    const E = P.nTargets;
    // Each worker walks a share of the trees over the whole batch: a tree is fetched into cache once per
    // batch, and partial scores are merged here, as ONNX Runtime merges its threads' partial sums.
    const shares = treeShares(P.nTrees, this.workers.length, n, E);
    const parts = shares.length - 1;
    let at = P.end;
    const region = (bytes: number) => {
      const start = at;
      at = align(at + bytes);
      return start;
    };
    const xAt = region(n * width * 4);
    const scratch = Array.from({ length: parts }, (_, w) => ({
      t0: shares[w]!,
      t1: shares[w + 1]!,
      scores: region(n * E * 4),
      has: region(n * E),
      pos: region(SUB * 4),
    }));
    const missing = at - this.memory.buffer.byteLength;
    if (missing > 0) this.memory.grow(Math.ceil(missing / PAGE));
    const buffer = this.memory.buffer;
    new Float32Array(buffer, xAt, n * width).set(x.subarray(0, n * width));
    // Every worker must be done with the shared memory before it is reused, even when one failed.
    const settled = await Promise.allSettled(
      scratch.map(
        (part, w) =>
          new Promise<void>((resolve, reject) => {
            const id = this.nextId++;
            this.waiting.set(id, { resolve, reject });
            this.workers[w]!.postMessage({ id, x: xAt, width, n, ...part });
          }),
      ),
    );
    const failed = settled.find((result) => result.status === "rejected");
    if (failed) {
      this.fail(failed.reason as Error);
      throw failed.reason;
    }
    const scores = new Float32Array(buffer, scratch[0]!.scores, n * E).slice();
    const has = new Uint8Array(buffer, scratch[0]!.has, n * E).slice();
    for (const part of scratch.slice(1)) {
      merge(
        P.aggregate,
        scores,
        has,
        new Float32Array(buffer, part.scores, n * E),
        new Uint8Array(buffer, part.has, n * E),
      );
    }
    const z = new Float32Array(n * E);
    const label = new Int32Array(n);
    finishRows(this.finish, scores, has, 0, n, z, label);
    return { z, label };
  }

  private fail(error: Error): void {
    this.failure ??= error;
    for (const waiter of this.waiting.values()) waiter.reject(error);
    this.waiting.clear();
  }
}

/**
 * How the trees are shared among the workers, as ONNX Runtime shares them among its threads, so that
 * the sums are added in the same order: contiguous shares of equal tree counts (the first ones one tree
 * longer), one per thread, when the batch has more than 50 rows and there are more trees than threads (at
 * least as many, with several targets); else one share, all trees in order.
 */
function treeShares(nTrees: number, threads: number, rows: number, targets: number): number[] {
  const enough = targets === 1 ? nTrees > threads : nTrees >= threads;
  const parts = rows > 50 && threads > 1 && enough ? threads : 1;
  const each = Math.floor(nTrees / parts);
  const extra = nTrees % parts;
  const cuts = [0];
  for (let w = 0; w < parts; w++) cuts.push(cuts[w]! + each + (w < extra ? 1 : 0));
  return cuts;
}

/** Merges a worker's partial scores into `scores`: sums, or minima/maxima of the targets that have one. */
function merge(
  aggregate: number,
  scores: Float32Array,
  has: Uint8Array,
  part: Float32Array,
  partHas: Uint8Array,
): void {
  for (let i = 0; i < scores.length; i++) {
    if (partHas[i] === 0) continue;
    const v = part[i]!;
    // As ONNX Runtime's MergePrediction: keep the first share's extreme only when strictly better.
    if (aggregate <= 1) scores[i] = scores[i]! + v;
    else scores[i] = has[i] !== 0 && (aggregate === 2 ? scores[i]! < v : scores[i]! > v) ? scores[i]! : v;
    has[i] = 1;
  }
}
