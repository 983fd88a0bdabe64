import type { KernelFinish } from "../finish.js";
import type { KernelForest } from "../kernel.js";
import type { Placed, WasmMemory } from "../memory.js";
import type { ForestLabels } from "./decoded.js";

/** A tree ensemble compiled for the kernel: node arrays in shared memory, and how scores are finished. */
export interface Forest {
  /** The node arrays, as views of {@link Forest.memory}. */
  readonly kernel: KernelForest;
  /** The shared WebAssembly memory holding the node arrays (batches go after them). */
  readonly memory: WasmMemory;
  /** Where the arrays are in it. */
  readonly placed: Placed;
  readonly finish: KernelFinish;
  /** The number of features a row must have (the largest feature id + 1). */
  readonly nFeatures: number;
  /** Classifier labels: int64 or strings; undefined for regressors. */
  readonly labels: ForestLabels;
  /** Nodes laid out (internal nodes and leaves of the reachable trees). */
  readonly nodeCount: number;
  /** Bytes of shared node arrays. */
  readonly bytes: number;
}
