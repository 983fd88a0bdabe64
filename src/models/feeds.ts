import { type ErrorCode, MlbatchError } from "../errors.js";
import type { MLmodel } from "./mlmodel.js";
import type { FeatureSpec } from "./model.js";
import type { Session } from "./onnx-worker.js";
import { type TensorValue, tensorValue } from "./tensors.js";

/** How the table's columns feed the graph: one input per column, or all columns as one 2-D input. */
export type FeedPlan =
  | { readonly kind: "columns"; readonly inputs: readonly { name: string; rank: number }[] }
  | { readonly kind: "matrix"; readonly input: string };

/** What names the columns of a model whose signature does not. */
export interface FeedOptions {
  /** The loader's `feature_columns`: the columns that feed the model, in order. */
  readonly featureColumns?: readonly string[] | undefined;
  /** The input table's columns that may feed the model, in order (the id columns left out). */
  readonly tableColumns?: readonly string[] | undefined;
}

/**
 * Plans how the table's columns feed the graph, as MLflow does: several graph inputs take one column
 * each, matched by name; a single graph input takes all the signature's columns, in order, as one 2-D
 * tensor. When the signature names no columns (a tensor signature, or none), the single input's columns
 * are `feature_columns`, else the saved input example's columns, else the table's columns in order.
 *
 * @throws MlbatchError `E_MODEL_LOAD` when the graph cannot be fed; `E_CONFIG` when `feature_columns`
 * does not fit the model; `E_SCHEMA` when the table's columns do not
 */
export function planFeeds(
  uri: string,
  session: Session,
  mlmodel: MLmodel,
  options: FeedOptions = {},
): { plan: FeedPlan; inputs: FeatureSpec[] } {
  const graphInputs = session.inputMetadata.map((meta) => tensorValue(uri, meta, "input"));
  const columns = mlmodel.signature.inputs;
  const { featureColumns } = options;
  if (featureColumns !== undefined && columns !== undefined) {
    throw new MlbatchError(
      "E_CONFIG",
      `loader.feature_columns is set, but model ${uri} has a column signature that names its inputs ` +
        `(${columns.map((c) => c.name).join(", ")}): remove loader.feature_columns.`,
    );
  }
  if (graphInputs.length === 1 && columns === undefined) {
    return planUnnamed(uri, graphInputs[0]!, mlmodel, options);
  }
  if (graphInputs.length > 1 || columns === undefined) {
    if (featureColumns !== undefined && featureColumns.length !== graphInputs.length) {
      throw new MlbatchError(
        "E_CONFIG",
        `loader.feature_columns names ${plural(featureColumns.length, "column")}, but model ${uri} has ${graphInputs.length} ` +
          `inputs (${graphInputs.map((i) => i.name).join(", ")}), one column each: name one column per input, in order.`,
      );
    }
    const inputs = graphInputs.map((input, i): FeatureSpec => {
      const spec = columns?.find((c) => c.name === input.name);
      if (columns !== undefined && spec === undefined) {
        throw new MlbatchError(
          "E_MODEL_LOAD",
          `model ${uri}: graph input "${input.name}" is not a column of the model's signature (${columns.map((c) => c.name).join(", ")}). ` +
            "Log the model with a signature whose column names are the ONNX input names.",
        );
      }
      return { name: featureColumns?.[i] ?? input.name, signatureType: spec?.type, type: input.type };
    });
    return { plan: columnsPlan(graphInputs), inputs };
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
  checkMatrixType(uri, input);
  return {
    plan: { kind: "matrix", input: input.name },
    inputs: columns.map((c) => ({ name: c.name, signatureType: c.type, type: input.type })),
  };
}

/** A single graph input whose columns the signature does not name. */
function planUnnamed(
  uri: string,
  input: TensorValue,
  mlmodel: MLmodel,
  options: FeedOptions,
): { plan: FeedPlan; inputs: FeatureSpec[] } {
  if (input.shape.length > 2) {
    throw new MlbatchError(
      "E_MODEL_LOAD",
      `model ${uri} takes ${tensorText(input, mlmodel)}: mlbatch feeds a table's rows as a [n, k] tensor, ` +
        "one column per feature. Export the model with a 2-D input.",
    );
  }
  const width = input.shape.length === 1 ? 1 : input.shape[1];
  const { names, from, code } = featureNames(
    input,
    typeof width === "number" ? width : undefined,
    mlmodel,
    options,
  );
  // Loaded for no table and told no names: the input's name, one column, as before names were sought.
  const unchecked = names.length === 1 && names[0] === input.name && options.tableColumns === undefined;
  if (!unchecked && typeof width === "number" && width !== names.length) {
    throw new MlbatchError(
      code,
      `model ${uri} takes ${tensorText(input, mlmodel)} and its signature names no columns, so it would be ` +
        `fed ${from}: ${plural(names.length, "column")} (${names.join(", ")}). ` +
        `Name its ${typeof width === "number" ? `${width} ` : ""}columns, in order, with the loader's ` +
        "feature_columns (loader: {KIND: CustomLoader, feature_columns: [...]}), or keep only them with inputs.columns.",
    );
  }
  const inputs = names.map((name): FeatureSpec => ({ name, signatureType: undefined, type: input.type }));
  if (names.length === 1) return { plan: columnsPlan([input]), inputs };
  checkMatrixType(uri, input);
  return { plan: { kind: "matrix", input: input.name }, inputs };
}

/** The names of an unnamed input's columns, where they come from, and whose fault a wrong count is. */
function featureNames(
  input: TensorValue,
  width: number | undefined,
  mlmodel: MLmodel,
  { featureColumns, tableColumns }: FeedOptions,
): { names: readonly string[]; from: string; code: ErrorCode } {
  if (featureColumns !== undefined) {
    return { names: featureColumns, from: "loader.feature_columns", code: "E_CONFIG" };
  }
  const example = mlmodel.inputExample?.columns;
  if (example !== undefined) {
    return { names: example, from: "the columns of its input example", code: "E_MODEL_LOAD" };
  }
  // Loaded without a table (the API), or a column named after a one-column input: the input's name.
  if (tableColumns === undefined || (width === 1 && tableColumns.includes(input.name))) {
    return { names: [input.name], from: "the column named after its input", code: "E_SCHEMA" };
  }
  return {
    names: tableColumns,
    from: "the input's columns in order (id columns left out)",
    code: "E_SCHEMA",
  };
}

/** `a float32 tensor of shape [-1, 12]`, from the tensor signature when it has one, else the graph. */
function tensorText(input: TensorValue, mlmodel: MLmodel): string {
  const spec = mlmodel.signature.tensorInputs?.length === 1 ? mlmodel.signature.tensorInputs[0] : undefined;
  const dtype = spec?.dtype || input.type;
  const shape = spec?.shape.length ? spec.shape : input.shape.map((d) => (typeof d === "number" ? d : -1));
  return `a ${dtype} tensor of shape [${shape.join(", ")}] (graph input "${input.name}")`;
}

function columnsPlan(inputs: readonly TensorValue[]): FeedPlan {
  return {
    kind: "columns",
    inputs: inputs.map((i) => ({ name: i.name, rank: i.shape.length === 1 ? 1 : 2 })),
  };
}

function checkMatrixType(uri: string, input: TensorValue): void {
  if (input.type === "string" || input.type === "int64" || input.type === "bool") {
    throw new MlbatchError(
      "E_MODEL_LOAD",
      `model ${uri}: a single ${input.type} input taking several columns is not supported`,
    );
  }
}

function plural(count: number, noun: string): string {
  return `${count} ${noun}${count === 1 ? "" : "s"}`;
}
