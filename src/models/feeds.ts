import { MlbatchError } from "../errors.js";
import type { MLmodel } from "./mlmodel.js";
import type { FeatureSpec } from "./model.js";
import type { Session } from "./onnx-worker.js";
import { tensorValue } from "./tensors.js";

/** How the table's columns feed the graph: one input per column, or all columns as one 2-D input. */
export type FeedPlan =
  | { readonly kind: "columns"; readonly inputs: readonly { name: string; rank: number }[] }
  | { readonly kind: "matrix"; readonly input: string };

/**
 * Plans how the table's columns feed the graph, as MLflow does: several graph inputs take one column
 * each, matched by name; a single graph input takes all the signature's columns, in order, as one 2-D
 * tensor.
 *
 * @throws MlbatchError `E_MODEL_LOAD` when the graph cannot be fed
 */
export function planFeeds(
  uri: string,
  session: Session,
  mlmodel: MLmodel,
): { plan: FeedPlan; inputs: FeatureSpec[] } {
  const graphInputs = session.inputMetadata.map((meta) => tensorValue(uri, meta, "input"));
  const columns = mlmodel.signature.inputs;
  if (graphInputs.length > 1 || columns === undefined) {
    const inputs = graphInputs.map((input): FeatureSpec => {
      const spec = columns?.find((c) => c.name === input.name);
      if (columns !== undefined && spec === undefined) {
        throw new MlbatchError(
          "E_MODEL_LOAD",
          `model ${uri}: graph input "${input.name}" is not a column of the model's signature (${columns.map((c) => c.name).join(", ")}). ` +
            "Log the model with a signature whose column names are the ONNX input names.",
        );
      }
      return { name: input.name, signatureType: spec?.type, type: input.type };
    });
    return {
      plan: {
        kind: "columns",
        inputs: graphInputs.map((i) => ({ name: i.name, rank: i.shape.length === 1 ? 1 : 2 })),
      },
      inputs,
    };
  }
  const input = graphInputs[0]!;
  const width = input.shape[1];
  if (input.shape.length !== 2 || (typeof width === "number" && width !== columns.length)) {
    throw new MlbatchError(
      "E_MODEL_LOAD",
      `model ${uri}: its single graph input "${input.name}" has shape [${input.shape.join(", ")}], but the signature ` +
        `has ${columns.length} columns to feed as one [n, ${columns.length}] tensor`,
    );
  }
  if (input.type === "string" || input.type === "int64" || input.type === "bool") {
    throw new MlbatchError(
      "E_MODEL_LOAD",
      `model ${uri}: a single ${input.type} input taking several columns is not supported`,
    );
  }
  return {
    plan: { kind: "matrix", input: input.name },
    inputs: columns.map((c) => ({ name: c.name, signatureType: c.type, type: input.type })),
  };
}
