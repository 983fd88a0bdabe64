import { ELEM, type OnnxModelFile, type OnnxNode } from "../onnx/graph.js";
import type { Before } from "./input-stage.js";
import { Unsupported } from "./unsupported.js";

const TREE_OPS = new Set(["TreeEnsembleRegressor", "TreeEnsembleClassifier", "TreeEnsemble"]);

/** How the graph was cut around its tree ensemble. */
export interface Plan {
  readonly tree: OnnxNode;
  /** The nodes computing the ensemble's input, and their sub-model when there are any. */
  readonly pre: Before;
  /** The sub-model of the nodes after the ensemble, when there are any. */
  readonly post: Uint8Array | undefined;
  /** Graph inputs the post model reads. */
  readonly postInputs: readonly string[];
}

/**
 * Cuts the graph around its single tree ensemble: the nodes it depends on, and the others.
 *
 * @throws Unsupported when the graph has no ensemble, several, or a shape the cut cannot keep exact
 */
export function cut(model: OnnxModelFile): Plan {
  const trees = model.nodes.filter((n) => n.domain === "ai.onnx.ml" && TREE_OPS.has(n.opType));
  if (trees.length === 0) throw new Unsupported("the graph has no tree ensemble");
  if (trees.length > 1)
    throw new Unsupported(`the graph has ${trees.length} tree ensembles; the engine runs one`);
  if (model.hasSparseInitializers) throw new Unsupported("the graph has sparse initializers");
  const tree = trees[0]!;
  const xName = tree.inputs[0]!;
  const graphInputs = new Set(model.inputs.map((i) => i.name));
  const pre = ancestors(model, xName);
  if (pre.size === 0 && !graphInputs.has(xName)) {
    throw new Unsupported(`the ensemble's input "${xName}" is neither a graph input nor computed`);
  }
  const xType = pre.size === 0 ? model.elemType(xName) : (model.elemType(xName) ?? ELEM.FLOAT);
  if (xType !== ELEM.FLOAT) throw new Unsupported(`the ensemble's input "${xName}" is not float32`);
  if (pre.size === 0) {
    const rank = model.inputs.find((i) => i.name === xName)?.shape.length;
    if (rank !== 2) throw new Unsupported(`the ensemble's input "${xName}" is not a 2-D tensor`);
  }
  const preNodes = model.nodes.filter((n) => pre.has(n));
  const preModel =
    pre.size === 0 ? undefined : model.subModel(preNodes, [], [{ name: xName, elemType: ELEM.FLOAT }], true);
  const after = model.nodes.filter((n) => n !== tree && !pre.has(n));
  const { postModel, postInputs } = postOf(model, tree, after, graphInputs);
  return { tree, pre: { nodes: preNodes, subModel: preModel }, post: postModel, postInputs };
}

/** The nodes the value `name` depends on. */
function ancestors(model: OnnxModelFile, name: string): Set<OnnxNode> {
  const producer = new Map<string, OnnxNode>();
  for (const node of model.nodes) for (const output of node.outputs) producer.set(output, node);
  const found = new Set<OnnxNode>();
  const stack = [name];
  while (stack.length > 0) {
    const node = producer.get(stack.pop()!);
    if (node === undefined || found.has(node)) continue;
    found.add(node);
    stack.push(...node.inputs.filter((i) => i !== ""));
  }
  return found;
}

/**
 * The sub-model of the nodes after the ensemble, and the graph inputs it reads.
 *
 * @throws Unsupported when one of them reads a value computed before the ensemble, or a graph output
 * is not computed from it
 */
function postOf(
  model: OnnxModelFile,
  tree: OnnxNode,
  post: readonly OnnxNode[],
  graphInputs: ReadonlySet<string>,
): { postModel: Uint8Array | undefined; postInputs: string[] } {
  const postProduced = new Set(post.flatMap((n) => n.outputs));
  const treeOutputs = new Set(tree.outputs.filter((o) => o !== ""));
  const postInputs = new Set<string>();
  for (const node of post) {
    for (const input of node.inputs) {
      if (input === "" || postProduced.has(input) || treeOutputs.has(input) || model.isInitializer(input))
        continue;
      if (graphInputs.has(input)) postInputs.add(input);
      else
        throw new Unsupported(
          `node "${node.name || node.opType}" after the ensemble reads "${input}", computed before it`,
        );
    }
  }
  for (const output of model.outputs) {
    if (!postProduced.has(output.name) && !treeOutputs.has(output.name)) {
      throw new Unsupported(`graph output "${output.name}" is not computed from the ensemble`);
    }
  }
  if (post.length === 0) return { postModel: undefined, postInputs: [...postInputs] };
  const classifier = tree.opType === "TreeEnsembleClassifier";
  const labelType =
    (tree.attributes.get("classlabels_strings")?.strings().length ?? 0) > 0 ? ELEM.STRING : ELEM.INT64;
  const types = classifier ? [labelType, ELEM.FLOAT] : [ELEM.FLOAT];
  const inputs = [
    ...tree.outputs
      .map((name, i) => ({ name, elemType: types[i] ?? ELEM.FLOAT }))
      .filter((o) => o.name !== ""),
    ...[...postInputs].map((name) => ({ name, elemType: model.elemType(name) ?? ELEM.FLOAT })),
  ];
  const outputs = model.outputs
    .filter((o) => postProduced.has(o.name))
    .map((o) => ({ name: o.name, elemType: o.elemType ?? ELEM.FLOAT }));
  return { postModel: model.subModel(post, inputs, outputs, false), postInputs: [...postInputs] };
}
