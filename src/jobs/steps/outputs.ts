/** The outputs' side of a run: what may be written, and the columns the outputs get. */
import { checkOutputsApart, type OutputPath } from "../../data/overlap.js";
import { identifierList } from "../../data/sql.js";
import { MlbatchError } from "../../errors.js";
import type { Model } from "../../models/model.js";
import type { InferenceSettings } from "../settings.js";

/**
 * Everything a run writes, for {@link checkOutputsApart}: outputs, quarantine, validation report, run
 * report.
 *
 * @param folder - the outputs are a folder (parts, or a sharded run's folder)
 */
export function outputPaths(
  settings: InferenceSettings,
  report: string | undefined,
  folder: boolean,
  reportHtml?: string,
): OutputPath[] {
  const { outputs, validation } = settings;
  return [
    { key: "outputs.path", path: outputs.path, folder },
    {
      key: "validation.quarantine.path",
      path: validation.quarantine?.path,
      folder: validation.quarantine?.shape === "folder",
    },
    { key: "validation.report", path: validation.report },
    { key: "report", path: report },
    { key: "report_html", path: reportHtml },
  ];
}

/**
 * Refuses early to run when an output is an input, or exists and its writer would refuse it (mode
 * `error`, or nothing mlbatch may replace). The run reports are checked first, on their own: when one is
 * refused, `reportsRefused` is called, and the job must not write them at its end (they would replace
 * the inputs they were refused for).
 *
 * @throws MlbatchError `E_CONFIG` for an output that is an input; `E_WRITE` for one the writer refuses
 */
export async function checkOutputs(
  settings: InferenceSettings,
  reports: { readonly report?: string | undefined; readonly reportHtml?: string | undefined },
  reportsRefused: () => void,
): Promise<void> {
  const { inputs, outputs, validation } = settings;
  const paths = outputPaths(settings, reports.report, outputs.shape === "folder", reports.reportHtml);
  await checkOutputsApart(
    inputs.path,
    paths.filter((p) => p.key === "report" || p.key === "report_html"),
  ).catch((error: unknown) => {
    reportsRefused();
    throw error;
  });
  await checkOutputsApart(inputs.path, paths);
  await outputs.check();
  await validation.quarantine?.check();
}

/**
 * The output's columns, in order: id columns, passthrough columns, the model's outputs, and the model
 * version column when asked.
 *
 * @throws MlbatchError `E_SCHEMA` when a name would appear twice
 */
export function outputColumns(
  idColumns: readonly string[],
  settings: Pick<InferenceSettings, "passthrough" | "modelVersionColumn">,
  model: Pick<Model, "uri" | "outputs">,
): string[] {
  const { passthrough, modelVersionColumn } = settings;
  const names = [
    ...idColumns,
    ...passthrough,
    ...model.outputs.map((o) => o.name),
    ...(modelVersionColumn === undefined ? [] : [modelVersionColumn]),
  ];
  const twice = [...new Set(names.filter((name, i) => names.indexOf(name) !== i))];
  if (twice.length > 0) {
    throw new MlbatchError(
      "E_SCHEMA",
      `output column(s) ${identifierList(twice)} would appear more than once (job.id_columns, ` +
        `job.passthrough, the outputs of model ${model.uri}, job.model_version_column); rename or remove one.`,
    );
  }
  return names;
}
