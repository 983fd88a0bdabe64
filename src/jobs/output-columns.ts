import { identifierList } from "../data/sql.js";
import { MlbatchError } from "../errors.js";
import type { Model } from "../models/model.js";

/**
 * The output's columns, in order: id columns, passthrough columns, the model's outputs, and the model
 * version column when asked.
 *
 * @throws MlbatchError `E_SCHEMA` (step validate) when a name would appear twice
 */
export function outputColumns(
  idColumns: readonly string[],
  passthrough: readonly string[],
  model: Pick<Model, "uri" | "outputs">,
  modelVersionColumn: string | undefined,
): string[] {
  const names = [
    ...idColumns,
    ...passthrough,
    ...model.outputs.map((o) => o.name),
    ...(modelVersionColumn === undefined ? [] : [modelVersionColumn]),
  ];
  const twice = [...new Set(names.filter((name, i) => names.indexOf(name) !== i))];
  if (twice.length > 0) {
    throw Object.assign(
      new MlbatchError(
        "E_SCHEMA",
        `output column(s) ${identifierList(twice)} would appear more than once (job.id_columns, ` +
          `job.passthrough, the outputs of model ${model.uri}, job.model_version_column); rename or remove one.`,
      ),
      { step: "validate" as const },
    );
  }
  return names;
}
