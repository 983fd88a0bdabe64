/**
 * The nodes before a tree ensemble, run in mlbatch when they are all operators it computes as ONNX Runtime
 * does (see `ops.ts`): then the engine needs no ONNX Runtime session, no thread and no native library
 * for them. Any other node leaves them all to ONNX Runtime.
 */
import { type OnnxModelFile, type OnnxNode, TENSOR_TYPES } from "../../onnx/graph.js";
import type { WireTensor } from "../../onnx-worker.js";
import { CAST_TARGETS, cast, castable } from "./cast.js";
import { FusedPrelude } from "./fused.js";
import { concat, OneHot, reshape, reshapeOf, scale, scalerOf } from "./ops.js";

/** The tensor types a batch's columns feed (others leave the nodes to ONNX Runtime). */
const BATCH_TYPES = new Set([
  "float32",
  "float64",
  "int64",
  "int32",
  "int16",
  "int8",
  "uint8",
  "bool",
  "string",
]);

type Values = Map<string, WireTensor>;
type Step = (values: Values) => void;

/** The nodes before an ensemble, as steps over tensors by name. */
export class Prelude {
  private constructor(
    private readonly steps: readonly Step[],
    private readonly output: string,
    /** The same nodes as one loop over the rows, when they allow it (see `fused.ts`). */
    private readonly plan: FusedPrelude | undefined,
  ) {}

  /** Whether batches are computed by one generated loop over the rows (else node by node). */
  get fused(): boolean {
    return this.plan !== undefined;
  }

  /**
   * The prelude of `nodes` (in graph order) making `output`, or undefined when one of them is not an
   * operator done here, or not in a form done here. `fuse: false` runs them node by node, always.
   */
  static of(
    model: OnnxModelFile,
    nodes: readonly OnnxNode[],
    output: string,
    { fuse = true }: { readonly fuse?: boolean } = {},
  ): Prelude | undefined {
    // ONNX Runtime rewrites chains of Casts at load, whatever the optimization level (its
    // RemoveDuplicateCastTransformer: int64 -> double -> float becomes int64 -> float, rounded once):
    // graphs with one are left to it.
    const casts = new Set(nodes.filter((n) => n.opType === "Cast").flatMap((n) => n.outputs));
    if (nodes.some((n) => n.opType === "Cast" && n.inputs.some((i) => casts.has(i)))) return undefined;
    const types = new Map<string, string>();
    for (const input of model.inputs) {
      const type = input.elemType === undefined ? undefined : TENSOR_TYPES[input.elemType];
      if (type !== undefined && BATCH_TYPES.has(type)) types.set(input.name, type);
    }
    const steps: Step[] = [];
    for (const node of nodes) {
      const step = stepOf(model, node, types);
      if (step === undefined) return undefined;
      steps.push(step);
    }
    if (types.get(output) !== "float32") return undefined;
    return new Prelude(steps, output, fuse ? FusedPrelude.of(model, nodes, output) : undefined);
  }

  /**
   * Computes the ensemble's input from the graph's feeds (which are only read), in `into` when it is
   * fused and `into` holds the batch's matrix, else in new arrays.
   *
   * @throws Error when the feeds do not fit the nodes, as ONNX Runtime would fail the batch
   */
  run(feeds: Readonly<Record<string, WireTensor>>, into?: Float32Array): WireTensor {
    const fused = this.plan?.run(feeds, into);
    if (fused !== undefined) return fused;
    const values: Values = new Map(Object.entries(feeds));
    for (const step of this.steps) step(values);
    return values.get(this.output)!;
  }
}

/** An operator done here: the type it makes, and how, from its inputs (checked) by index. */
interface Operator {
  readonly type: string;
  readonly step: (input: (i: number) => WireTensor) => WireTensor;
}

/** A node as a step, its output's type recorded in `types`; undefined when it is not done here. */
function stepOf(model: OnnxModelFile, node: OnnxNode, types: Map<string, string>): Step | undefined {
  const output = node.outputs[0];
  if (output === undefined || output === "" || node.outputs.length !== 1) return undefined;
  if (node.inputs.length === 0 || node.inputs.some((i) => i === "")) return undefined;
  const inputTypes = node.inputs.map((name) => types.get(name));
  const name = node.name || node.opType;
  const made = operatorOf(model, node, inputTypes, name);
  if (made === undefined) return undefined;
  types.set(output, made.type);
  return (values) => {
    const input = (i: number) => {
      const t = values.get(node.inputs[i]!);
      if (t === undefined || t.type !== inputTypes[i])
        throw new Error(`node "${name}": input "${node.inputs[i]}" is not a tensor of ${inputTypes[i]}`);
      return t;
    };
    values.set(output, made.step(input));
  };
}

function operatorOf(
  model: OnnxModelFile,
  node: OnnxNode,
  inputTypes: readonly (string | undefined)[],
  name: string,
): Operator | undefined {
  const type = inputTypes[0];
  if (type === undefined) return undefined;
  const a = node.attributes;
  if (node.domain === "ai.onnx.ml") {
    if (node.opType === "OneHotEncoder") return oneHotStep(node, type);
    if (node.opType === "Scaler" && type === "float32") return scalerStep(node, name);
    return undefined;
  }
  if (node.domain !== "" && node.domain !== "ai.onnx") return undefined;
  if (node.opType === "Identity") return { type, step: (input) => input(0) };
  if (node.opType === "Cast") {
    const to = CAST_TARGETS[a.get("to")?.int ?? -1];
    return to !== undefined && castable(type, to)
      ? { type: to, step: (input) => cast(input(0), to) }
      : undefined;
  }
  if (node.opType === "Concat") {
    const axis = a.get("axis")?.int;
    if (axis === undefined || inputTypes.some((t) => t !== type)) return undefined;
    return {
      type,
      step: (input) =>
        concat(
          node.inputs.map((_, i) => input(i)),
          axis,
          name,
        ),
    };
  }
  if (node.opType === "Reshape") return reshapeStep(model, node, type, name);
  return undefined;
}

function reshapeStep(model: OnnxModelFile, node: OnnxNode, type: string, name: string): Operator | undefined {
  const r = reshapeOf(model, node);
  return r && { type, step: (input) => reshape(input(0), r.shape, r.allowZero, name) };
}

function oneHotStep(node: OnnxNode, type: string): Operator | undefined {
  // ONNX Runtime's kernels: int64, float, double and string inputs; floats are cast in C++ (left to it).
  if (type !== "int64" && type !== "string") return undefined;
  const encoder = OneHot.of(node);
  return encoder && { type: "float32", step: (input) => encoder.encode(input(0)) };
}

function scalerStep(node: OnnxNode, name: string): Operator | undefined {
  const s = scalerOf(node);
  return s && { type: "float32", step: (input) => scale(input(0), s.offset, s.factor, name) };
}
