import { MlbatchError } from "../errors.js";
import type { MLmodel } from "./mlmodel.js";
import type { OutputSpec } from "./model.js";
import type { ZipMapOutput } from "./onnx/zipmap.js";
import type { Session } from "./onnx-worker.js";
import { type TensorValue, tensorValue } from "./tensors.js";

/** How the loader names the model's output columns. */
export type OutputNaming =
  /** The names of the signature's outputs, in order (else the ONNX output names). */
  | "signature"
  /** One column, `prediction`, holding the first ONNX output (a classifier's label). */
  | "prediction";

/** Where each output column comes from: an ONNX output, and a position in its second dimension. */
export interface OutputSource {
  readonly output: string;
  readonly width: number;
  readonly index: number;
}

/** A graph output and the columns it gives. */
interface Group {
  /** The class labels, when the output is a classifier's probabilities that a ZipMap made a map of. */
  readonly classes: readonly string[] | undefined;
  readonly outputs: OutputSpec[];
  readonly sources: OutputSource[];
}

/**
 * Plans the output columns. A tensor of shape [n] or [n, 1] gives one column named after it, one of
 * shape [n, k] gives `<name>_0` ... `<name>_<k-1>`; a classifier's probabilities (a ZipMap's input) give
 * one column per class, `probability_<class>`, in the model's class order. Under `signature` naming the
 * signature's output names rename the outputs when there are as many (with a ZipMap: as many as the
 * graph outputs, or as the outputs besides the probabilities, e.g. just the label); under `prediction`
 * the first output that is not the probabilities (the label) is `prediction`.
 *
 * @param zipmaps - the ZipMaps taken off the graph: their input tensors are the probabilities
 * @param hint - what to do about an output that is not a tensor
 * @throws MlbatchError `E_MODEL_LOAD` for an output mlbatch cannot write
 */
export function planOutputs(
  uri: string,
  session: Session,
  mlmodel: MLmodel,
  naming: OutputNaming,
  zipmaps: readonly ZipMapOutput[],
  hint: string,
): { outputs: OutputSpec[]; sources: OutputSource[] } {
  const groups = session.outputMetadata.map((meta) => {
    const value = tensorValue(uri, meta, "output", hint);
    return group(uri, value, zipmaps.find((z) => z.tensor === value.name)?.classes);
  });
  if (naming === "prediction") {
    const first = groups.find((g) => g.classes === undefined) ?? groups[0];
    if (first === undefined) return { outputs: [], sources: [] };
    const renamed =
      first.outputs.length === 1 ? [{ ...first.outputs[0]!, name: "prediction" }] : first.outputs;
    return { outputs: renamed, sources: first.sources };
  }
  const names = mlmodel.signature.outputs?.map((c) => c.name);
  const outputs = groups.flatMap((g) => g.outputs);
  const sources = groups.flatMap((g) => g.sources);
  if (names === undefined) return { outputs, sources };
  if (groups.every((g) => g.classes === undefined)) {
    if (names.length !== outputs.length) return { outputs, sources };
    return { outputs: outputs.map((o, i) => ({ ...o, name: names[i]! })), sources };
  }
  // With a ZipMap: the names are the graph outputs' (the probabilities keep their class columns), or
  // those of the other outputs only.
  const others = groups.filter((g) => g.classes === undefined);
  const named = names.length === groups.length ? groups : names.length === others.length ? others : [];
  const renamed = groups.flatMap((g) => {
    const i = named.indexOf(g);
    if (i < 0 || g.classes !== undefined || g.outputs.length !== 1) return g.outputs;
    return [{ ...g.outputs[0]!, name: names[i]! }];
  });
  return { outputs: renamed, sources };
}

function group(uri: string, value: TensorValue, classes: readonly string[] | undefined): Group {
  const { name, shape, type } = value;
  if (classes !== undefined) {
    if (type !== "float32" || shape.length > 2) {
      throw new MlbatchError(
        "E_MODEL_LOAD",
        `model ${uri}: the probabilities "${name}" of its ZipMap are a ${type} tensor of shape [${shape.join(", ")}]; ` +
          "mlbatch writes a ZipMap's [n, classes] float tensor",
      );
    }
    const width = classes.length;
    return {
      classes,
      outputs: classes.map((label) => ({ name: `probability_${label}`, type })),
      sources: classes.map((_, index) => ({ output: name, width, index })),
    };
  }
  const width = shape.length <= 1 ? 1 : shape[1];
  if (typeof width !== "number" || shape.length > 2) {
    throw new MlbatchError(
      "E_MODEL_LOAD",
      `model ${uri}: output "${name}" has shape [${shape.join(", ")}]; mlbatch writes outputs of shape [n] or [n, k] with a fixed k`,
    );
  }
  const outputs: OutputSpec[] = [];
  const sources: OutputSource[] = [];
  for (let index = 0; index < width; index++) {
    outputs.push({ name: width === 1 ? name : `${name}_${index}`, type });
    sources.push({ output: name, width, index });
  }
  return { classes: undefined, outputs, sources };
}
