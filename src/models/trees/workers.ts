/**
 * The engine's worker threads. A worker is plain JavaScript evaluated from a string: the kernel functions'
 * own source (compiled from kernel.ts, or transformed by the test runner) and a message loop. The forest
 * and the batches are in one shared WebAssembly memory; a message carries only offsets. A worker may start
 * before its forest is known (its thread boots while the model is read): its first message gives it the
 * forest (the placement, views of the node arrays, the memory and the compiled module), and it answers
 * "ready".
 */
import { Worker } from "node:worker_threads";
import type { CompiledTrees } from "./compiled.js";
import { chunksOf, type KernelForest, scoreCompiled, scoreRows, scoreShare } from "./kernel.js";
import type { Placed, WasmMemory } from "./memory.js";

const WORKER = `
const { parentPort } = require("node:worker_threads");
const scoreRows = ${scoreRows.toString()};
const scoreShare = ${scoreShare.toString()};
const scoreCompiled = ${scoreCompiled.toString()};
const chunksOf = ${chunksOf.toString()};
parentPort.once("message", ({ placed, forest, memory, module, compiled }) => {
  let wasm;
  let chunks;
  try {
    wasm = new WebAssembly.Instance(module, { env: { memory, abort() { throw new Error("wasm abort"); } } }).exports;
    if (compiled !== undefined) chunks = chunksOf(compiled, memory);
  } catch (error) {
    parentPort.postMessage({ ready: false, error: String(error && error.stack || error) });
    return;
  }
  parentPort.on("message", (m) => {
    try {
      if (m.shares !== undefined) scoreCompiled(chunks, memory.buffer, m);
      else scoreShare(placed, forest, wasm, memory.buffer, m);
      parentPort.postMessage({ id: m.id });
    } catch (error) {
      parentPort.postMessage({ id: m.id, error: String(error && error.stack || error) });
    }
  });
  parentPort.postMessage({ ready: true });
});
`;

/** What a worker is given to serve a forest. */
export interface WorkerForest {
  readonly placed: Placed;
  /** Views of the node arrays (shared: a message carries them without copy). */
  readonly forest: KernelForest;
  readonly memory: WasmMemory;
  /** The compiled kernel module. */
  readonly module: object;
  /** The forest's trees compiled to WebAssembly, when it is compilable (see `compiled.ts`). */
  readonly compiled: CompiledTrees | undefined;
}

/** Worker threads started before their forest is known. */
export interface StartingWorkers {
  /** Gives the workers their forest; resolves with them once each is ready. */
  attach(forest: WorkerForest): Promise<readonly Worker[]>;
  /** Stops the workers (when no forest comes). */
  cancel(): Promise<void>;
}

/** Starts `count` worker threads now; see {@link StartingWorkers}. */
export function startWorkers(count: number): StartingWorkers {
  const workers = Array.from({ length: Math.max(1, count) }, () => new Worker(WORKER, { eval: true }));
  const stop = () => Promise.all(workers.map((worker) => worker.terminate())).then(() => undefined);
  // A worker that dies before it is given its forest must not be an unhandled error.
  const early = workers.map((worker) => failure(worker));
  return {
    attach: async (init) => {
      try {
        // Ready once the worker has instantiated the WebAssembly module on the forest's memory.
        await Promise.all(
          workers.map((worker, i) => {
            const ready = new Promise<void>((resolve, reject) => {
              worker.once("message", (reply: { ready: boolean; error?: string }) =>
                reply.ready ? resolve() : reject(new Error(`tree engine worker failed: ${reply.error}`)),
              );
            });
            worker.postMessage(init);
            return Promise.race([ready, early[i]!.then((error) => Promise.reject(error))]);
          }),
        );
      } catch (error) {
        await stop();
        throw error;
      }
      return workers;
    },
    cancel: stop,
  };
}

/** Resolves with the error that ends a worker, if one does. */
function failure(worker: Worker): Promise<Error> {
  return new Promise((resolve) => {
    worker.once("error", resolve);
    worker.once("exit", (code) => resolve(new Error(`a tree engine worker exited (code ${code})`)));
  });
}
