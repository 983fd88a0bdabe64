/**
 * Compiles a tree-ensemble node into the kernel's layout: both operator generations are first decoded
 * into one form (`decoded.ts`: nodes and leaves by index), then laid out the same way (`layout.ts`).
 */
import type { OnnxNode } from "../../onnx/graph.js";
import { Unsupported } from "../unsupported.js";
import { decodeV3 } from "./decode-v3.js";
import { decodeV5 } from "./decode-v5.js";
import type { Forest } from "./forest.js";
import { layOut } from "./layout.js";

export type { Forest } from "./forest.js";

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
