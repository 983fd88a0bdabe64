/** The inputs' side of a run: opened, their id columns known, and the columns that feed the model. */
import type { Source } from "../../data/source.js";
import { MlbatchError } from "../../errors.js";
import type { MLmodel } from "../../models/mlmodel.js";
import type { StepContext } from "../context.js";
import type { InferenceSettings } from "../settings.js";

/** Inputs opened (their schema, not their data), and the columns that identify their rows. */
export interface OpenedInputs {
  readonly source: Source;
  readonly idColumns: readonly string[];
}

/**
 * Checks that the id and passthrough columns exist in the inputs.
 *
 * @returns the id columns: the configured ones, else the input's own (a Parquet file's pandas index)
 * @throws MlbatchError `E_SCHEMA` naming the missing columns and the inputs' columns
 */
export function idColumnsOf(
  source: Source,
  settings: Pick<InferenceSettings, "idColumns" | "passthrough">,
): readonly string[] {
  const ids = settings.idColumns ?? source.idColumns;
  for (const [names, what, key] of [
    [ids, "id", "id_columns"],
    [settings.passthrough, "passthrough", "passthrough"],
  ] as const) {
    const missing = names.filter((id) => source.typeOf(id) === undefined);
    if (missing.length > 0) {
      throw new MlbatchError(
        "E_SCHEMA",
        `${what} column(s) ${missing.map((m) => `"${m}"`).join(", ")} not found in inputs "${source.label}" ` +
          `(columns: ${source.columns.map((c) => c.name).join(", ")}). Fix job.${key}.`,
      );
    }
  }
  return ids;
}

/** Opens the inputs (step read) and checks their id and passthrough columns (step validate). */
export async function openInputs(
  ctx: StepContext,
  open: () => Promise<Source>,
  settings: Pick<InferenceSettings, "idColumns" | "passthrough">,
): Promise<OpenedInputs> {
  const source = await ctx.step("read", open);
  const idColumns = await ctx.step("validate", async () => idColumnsOf(source, settings), null);
  return { source, idColumns };
}

/**
 * The columns that feed a model whose signature names none: the input's columns less the id columns,
 * as MLflow feeds them. A list column is the tensor of such a model when it is the only column or the
 * signature is a tensor's: it is spread into one column per element.
 *
 * @returns the inputs to stream (spread or not) and the columns that feed the model, in order
 */
export async function modelTable(
  ctx: StepContext,
  inputs: OpenedInputs,
  mlmodel: MLmodel,
): Promise<{ source: Source; table: readonly string[] }> {
  const { source, idColumns } = inputs;
  const table = source.columns.map((c) => c.name).filter((name) => !idColumns.includes(name));
  const lists = table.filter((name) => source.isNumericList(name));
  const one = mlmodel.signature.inputs === undefined && lists.length === 1 ? lists[0] : undefined;
  if (one === undefined || (table.length !== 1 && mlmodel.signature.tensorInputs === undefined)) {
    return { source, table };
  }
  const spread = await ctx.step("read", () => source.spreadList(one));
  ctx.logger.info(
    `[Inference] Column "${one}" feeds the model as a tensor of ${spread.columns.length} values`,
  );
  return { source: spread.source, table: spread.columns };
}
