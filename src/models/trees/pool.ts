import type { Worker } from "node:worker_threads";
import { type CompiledTrees, compileTrees } from "./compiled.js";
import { finishRows } from "./finish.js";
import type { Forest } from "./forest/index.js";
import { type CompiledChunks, chunksOf, type KernelWasm, scoreCompiled, scoreShare } from "./kernel.js";
import { KERNEL_WASM } from "./kernel-wasm.js";
import { align, PAGE, Wasm } from "./memory.js";
import { startWorkers } from "./workers.js";

/** Rows that walk a tree in lockstep: enough for memory-level parallelism, few enough for L1. */
const SUB = 64;

/**
 * Node visits (rows x the trees' depths) below which a batch is scored on the calling thread: less than
 * starting the worker threads costs (a few milliseconds of WebAssembly). A pool started without workers
 * starts them with the first batch above it; until they are ready, batches are scored here.
 */
export const INLINE_VISITS = 1 << 20;

/** Workers started before their forest is known (see {@link TreePool.start}). */
export interface StartingPool {
  /** Gives the workers their forest; resolves once each is ready. */
  attach(forest: Forest, options?: PoolOptions): Promise<TreePool>;
  /** Stops the workers (when no forest comes). */
  cancel(): Promise<void>;
}

/** How a pool runs its forest. */
export interface PoolOptions {
  /**
   * When the trees are compiled to WebAssembly, if the forest allows it (see `compiled.ts`): `true` when
   * the pool is made, `false` never; by default when its workers start (a pool scoring only small
   * batches on the calling thread never compiles: there the node walk costs less than the compile). The
   * node walk gives the same bits.
   */
  readonly compile?: boolean;
}

/** One batch's results: scores `[n, nTargets]` and, for classifiers, label indexes (see `finishRows`). */
export interface TreeResult {
  readonly z: Float32Array;
  readonly label: Int32Array;
}

/**
 * Worker threads running a {@link Forest} over batches in shared memory: each worker walks a share of the
 * trees over the whole batch (a tree is read into cache once per batch), and the partial scores are merged
 * in the order ONNX Runtime merges its threads'. Small batches are scored on the calling thread, share by
 * share, with the same code and the same merge: the same bits. Calls are served one at a time; after a
 * worker failure, every call fails.
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
  private workers: readonly Worker[] | undefined;
  /** The workers being started (by a batch worth them), and the main thread's kernel instance. */
  private starting: Promise<void> | undefined;
  private local: KernelWasm | undefined;
  /** The forest's trees compiled to WebAssembly (once compiled, when compilable), and their instance here. */
  private compiled: CompiledTrees | undefined;
  private readonly compile: boolean | undefined;
  private localChunks: CompiledChunks | undefined;
  /** Node visits per row: the sum of the trees' depths. */
  private readonly visits: number;

  private constructor(
    private readonly forest: Forest,
    /** The threads the trees are shared among (the shares, and so the bits, do not depend on workers). */
    readonly threads: number,
    private readonly module: object,
    options: PoolOptions,
  ) {
    this.visits = forest.kernel.depths.reduce((sum, depth) => sum + depth, 0);
    this.compile = options.compile;
    if (this.compile === true) this.compileTrees();
  }

  /** Starts `threads` workers on the forest's shared memory. */
  static create(forest: Forest, threads: number, options: PoolOptions = {}): Promise<TreePool> {
    return TreePool.start(threads).attach(forest, options);
  }

  /**
   * Starts `threads` workers now, before their forest is known: their threads boot while the model is
   * read or compiled. {@link StartingPool.attach} gives them the forest; {@link StartingPool.cancel}
   * stops them when there is none.
   */
  static start(threads: number): StartingPool {
    const starting = startWorkers(threads);
    return {
      attach: async (forest, options = {}) => {
        const pool = new TreePool(forest, Math.max(1, threads), kernelModule(), options);
        pool.adopt(await starting.attach(pool.workerForest()));
        return pool;
      },
      cancel: () => starting.cancel(),
    };
  }

  /**
   * A pool that starts its workers only when a batch is worth them (see {@link INLINE_VISITS}): a small
   * model on a small input never starts a thread.
   */
  static lazy(forest: Forest, threads: number, options: PoolOptions = {}): TreePool {
    return new TreePool(forest, Math.max(1, threads), kernelModule(), options);
  }

  /** The worker threads running (0 until a batch is worth them, for a lazy pool). */
  get running(): number {
    return this.workers?.length ?? 0;
  }

  /** Whether the trees are compiled to WebAssembly (else the kernel walks their nodes). */
  get compiledTrees(): boolean {
    return this.compiled !== undefined;
  }

  /** Bytes of the shared memory (forest and batch buffers). */
  get bytes(): number {
    return this.forest.memory.buffer.byteLength;
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
    await this.starting?.catch(() => undefined);
    await Promise.all((this.workers ?? []).map((worker) => worker.terminate()));
  }

  private async runNow(x: Float32Array, n: number, width: number): Promise<TreeResult> {
    if (this.failure) throw this.failure;
    const P = this.forest.placed;
    const E = P.nTargets;
    // Each share of the trees is walked over the whole batch: a tree is fetched into cache once per
    // batch, and partial scores are merged here, as ONNX Runtime merges its threads' partial sums.
    const shares = treeShares(P.nTrees, this.threads, n, E);
    const parts = shares.length - 1;
    let at = P.end;
    const region = (bytes: number) => {
      const start = at;
      at = align(at + bytes);
      return start;
    };
    const xAt = region(n * width * 4);
    const scratch = Array.from({ length: parts }, (_, w) => ({
      x: xAt,
      width,
      n,
      t0: shares[w]!,
      t1: shares[w + 1]!,
      scores: region(n * E * 4),
      has: region(n * E),
      pos: region(SUB * 4),
      sub: SUB,
    }));
    // Compiled trees: each thread scores a range of rows through every share, with its own keys.
    const compiled = this.compiled;
    // The first room holds every row's keys (when this thread scores the batch alone).
    const keys = Array.from({ length: compiled === undefined ? 0 : this.threads }, (_, w) =>
      region((w === 0 ? n : Math.ceil(n / this.threads)) * compiled!.keyBytes),
    );
    const memory = this.forest.memory;
    const missing = at - memory.buffer.byteLength;
    if (missing > 0) memory.grow(Math.ceil(missing / PAGE));
    const buffer = memory.buffer;
    new Float32Array(buffer, xAt, n * width).set(x.subarray(0, n * width));
    if (this.workers === undefined && n * this.visits >= INLINE_VISITS) {
      // Batches worth the workers: started once; until they are ready, scored here, letting their "ready"
      // through first (a caller that only awaits promises would never give the event loop a turn).
      this.startWorkers();
      await new Promise((resolve) => setImmediate(resolve));
    }
    const threads = this.workers?.length ?? 1;
    const jobs = keys.slice(0, threads).map((keysAt, w) => ({
      x: xAt,
      width,
      begin: Math.floor((n * w) / threads),
      end: Math.floor((n * (w + 1)) / threads),
      keys: keysAt,
      shares: scratch.map(({ t0, t1, scores, has }) => ({ t0, t1, scores, has })),
    }));
    if (this.workers !== undefined)
      await this.dispatch(this.workers, compiled === undefined ? scratch : jobs);
    else if (compiled !== undefined) scoreCompiled(this.localCompiled()!, buffer, jobs[0]!);
    else for (const part of scratch) scoreShare(P, this.forest.kernel, this.localKernel(), buffer, part);
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
    finishRows(this.forest.finish, scores, has, 0, n, z, label);
    return { z, label };
  }

  /** Sends share `w` to worker `w`; resolves when every worker is done with the shared memory. */
  private async dispatch(workers: readonly Worker[], shares: readonly object[]): Promise<void> {
    // Every worker must be done with the shared memory before it is reused, even when one failed.
    const settled = await Promise.allSettled(
      shares.map(
        (share, w) =>
          new Promise<void>((resolve, reject) => {
            const id = this.nextId++;
            this.waiting.set(id, { resolve, reject });
            workers[w]!.postMessage({ id, ...share });
          }),
      ),
    );
    const failed = settled.find((result) => result.status === "rejected");
    if (failed) {
      this.fail(failed.reason as Error);
      throw failed.reason;
    }
  }

  /** Starts the workers in the background; batches are scored here until they are ready. */
  private startWorkers(): void {
    this.starting ??= startWorkers(this.threads)
      .attach(this.workerForest())
      .then(
        (workers) => this.adopt(workers),
        (error: Error) => this.fail(error),
      );
  }

  private adopt(workers: readonly Worker[]): void {
    for (const worker of workers) {
      worker.on("message", (reply: { id: number; error?: string }) => {
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
    this.workers = workers;
  }

  private workerForest() {
    const { placed, kernel, memory } = this.forest;
    if (this.compile !== false) this.compileTrees();
    return { placed, forest: kernel, memory, module: this.module, compiled: this.compiled };
  }

  /** Compiles the trees, once (nothing when the forest is not compilable). */
  private compileTrees(): void {
    if (this.compiled !== undefined) return;
    const P = this.forest.placed;
    this.compiled = compileTrees(this.forest.kernel, P, treeShares(P.nTrees, this.threads, 51, P.nTargets));
  }

  /** The compiled trees instantiated on this thread, on the forest's memory. */
  private localCompiled(): CompiledChunks | undefined {
    if (this.compiled === undefined) return undefined;
    this.localChunks ??= chunksOf(this.compiled, this.forest.memory);
    return this.localChunks;
  }

  /** The kernel module instantiated on this thread, on the forest's memory. */
  private localKernel(): KernelWasm {
    const abort = () => {
      throw new Error("wasm abort");
    };
    this.local ??= new Wasm.Instance(this.module, { env: { memory: this.forest.memory, abort } })
      .exports as unknown as KernelWasm;
    return this.local;
  }

  private fail(error: Error): void {
    this.failure ??= error;
    for (const waiter of this.waiting.values()) waiter.reject(error);
    this.waiting.clear();
  }
}

/** The compiled kernel module (a few KB: compiled once per pool). */
function kernelModule(): object {
  return new Wasm.Module(Buffer.from(KERNEL_WASM, "base64"));
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
