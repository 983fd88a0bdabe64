/**
 * Compiles a tree-ensemble node into the kernel's layout: both operator generations are first decoded
 * into one form (`decoded.ts`: nodes and leaves by index), then laid out the same way (`layout.ts`).
 */
import type { OnnxNode } from "../../onnx/graph.js";
import type { KernelFinish } from "../finish.js";
import type { KernelForest } from "../kernel.js";
import type { Placed, WasmMemory } from "../memory.js";
import { Unsupported } from "../unsupported.js";
import { decodeV3 } from "./decode-v3.js";
import { decodeV5 } from "./decode-v5.js";
import { layOut } from "./layout.js";

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
  readonly labels: { readonly ints: BigInt64Array } | { readonly strings: readonly string[] } | undefined;
  /** Nodes laid out (internal nodes and leaves of the reachable trees). */
  readonly nodeCount: number;
  /** Bytes of shared node arrays. */
  readonly bytes: number;
}

/**
 * Compiles an `ai.onnx.ml` `TreeEnsembleRegressor` or `TreeEnsembleClassifier` (opsets 1 to 3) or
 * `TreeEnsemble` (opset 5) node into the kernel's layout, with ONNX Runtime's reading of the attributes.
 * The decoded attributes are the function's own: only the shared memory outlives it.
 *
 * @throws Unsupported with the reason when the node uses something the engine does not reproduce exactly
 */
export function compileForest(node: OnnxNode): Forest {
  if (node.opType === "TreeEnsemble") return layOut(decodeV5(node));
  if (node.opType === "TreeEnsembleRegressor" || node.opType === "TreeEnsembleClassifier") {
    return layOut(decodeV3(node));
  }
  throw new Unsupported(`${node.opType} is not a tree ensemble the engine runs`);
}

export { Unsupported };
