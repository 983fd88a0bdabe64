import { ELEM, type OnnxModelFile, type OnnxNode } from "./graph.js";

/** A graph output that a ZipMap makes out of a probability tensor, as classifier converters write it. */
export interface ZipMapOutput {
  /** The ZipMap's output: a graph output of type `seq(map(int64|string, tensor(float)))`. */
  readonly output: string;
  /** The ZipMap's input, the [N, classes] float tensor of probabilities. */
  readonly tensor: string;
  /** The class labels in the model's class order (`classlabels_int64s` or `classlabels_strings`). */
  readonly classes: readonly string[];
}

/** The graph without the ZipMaps that make its outputs, ready for ONNX Runtime or the tree engine. */
export interface ZipMapFree {
  /** The rewritten model: each ZipMap output replaced by the ZipMap's input tensor, in place. */
  readonly bytes: Uint8Array;
  readonly zipmaps: readonly ZipMapOutput[];
}

/** Thrown when a ZipMap cannot be taken off the graph; the message says why. */
export class ZipMapKept extends Error {}

/**
 * Takes the ZipMaps off a classifier's graph: the graph outputs they make (which ONNX Runtime for Node
 * cannot return: they are not tensors) become the probability tensors they read, which hold the same
 * values. ZipMap only pairs each row's probabilities with the class labels, which are kept here.
 *
 * @returns undefined when no graph output comes from a ZipMap
 * @throws ZipMapKept when a ZipMap output is also read by another node, or when the graph cannot be
 * re-encoded whole (sparse initializers, or weights in an external data file)
 */
export function withoutZipMaps(model: OnnxModelFile): ZipMapFree | undefined {
  const graphOutputs = new Set(model.outputs.map((o) => o.name));
  const zipmapNodes = model.nodes.filter(
    (n) => n.opType === "ZipMap" && n.domain === "ai.onnx.ml" && graphOutputs.has(n.outputs[0] ?? ""),
  );
  if (zipmapNodes.length === 0) return undefined;
  const zipmaps = zipmapNodes.map((node) => describe(model, node));
  if (model.hasSparseInitializers) {
    throw new ZipMapKept("the graph has sparse initializers, which mlbatch does not re-encode");
  }
  if (model.hasExternalData) {
    throw new ZipMapKept("its weights are in an external data file, which mlbatch cannot re-encode");
  }
  const outputs: { name: string; elemType: number }[] = [];
  for (const output of model.outputs) {
    const zipmap = zipmaps.find((z) => z.output === output.name);
    const name = zipmap?.tensor ?? output.name;
    if (outputs.some((o) => o.name === name)) continue;
    outputs.push({ name, elemType: zipmap === undefined ? (output.elemType ?? ELEM.FLOAT) : ELEM.FLOAT });
  }
  const nodes = model.nodes.filter((n) => !zipmapNodes.includes(n));
  return { bytes: model.withGraph(nodes, outputs), zipmaps };
}

function describe(model: OnnxModelFile, node: OnnxNode): ZipMapOutput {
  const output = node.outputs[0]!;
  const reader = model.nodes.find((n) => n !== node && n.inputs.includes(output));
  if (reader !== undefined) {
    throw new ZipMapKept(
      `node "${reader.name || reader.opType}" reads the ZipMap's output "${output}", so it cannot be taken off`,
    );
  }
  const ints = node.attributes.get("classlabels_int64s")?.bigints() ?? new BigInt64Array(0);
  const strings = node.attributes.get("classlabels_strings")?.strings() ?? [];
  const classes = strings.length > 0 ? strings : Array.from(ints, (label) => label.toString());
  if (classes.length === 0) {
    throw new ZipMapKept(`the ZipMap making "${output}" has no class labels`);
  }
  return { output, tensor: node.inputs[0]!, classes };
}
