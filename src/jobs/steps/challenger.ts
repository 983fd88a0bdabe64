/**
 * The Challenger's side of a run: its version resolved and loaded beside the Champion's, and the
 * comparison of their predictions made into the run report's `challenger` section.
 */
import type { Database } from "../../data/database.js";
import type { Source } from "../../data/source.js";
import { identifierList, quotedIdentifier } from "../../data/sql.js";
import type { Loader } from "../../models/loaders/index.js";
import { readMLmodel } from "../../models/mlmodel.js";
import type { Model } from "../../models/model.js";
import type { ModelVersion } from "../../registry/registry.js";
import { modelRequest, resolutionText, resolveModel } from "../../registry/request.js";
import type { ChallengerReport } from "../../report/sections.js";
import type { MlflowService } from "../../services/mlflow.js";
import type { ColumnResult } from "../challenger/comparison.js";
import type { StepContext } from "../context.js";
import type { ChallengerSettings } from "../settings.js";

/** A loaded Challenger and the version it is. */
export interface LoadedChallenger {
  readonly model: Model;
  readonly version: ModelVersion;
}

/**
 * Resolves and loads the Challenger (step load), with the job's log lines.
 *
 * @param table - the input's columns, which feed a model whose signature names none
 * @throws MlbatchError `E_MODEL_NOT_FOUND`, `E_MODEL_LOAD`, the registry's and the loader's errors
 */
export async function loadChallenger(
  ctx: StepContext,
  mlflow: MlflowService,
  loader: Loader,
  settings: ChallengerSettings,
  table: readonly string[],
): Promise<LoadedChallenger> {
  const request = modelRequest(mlflow.registryName, settings.aliasOrVersion, settings.modelUri);
  ctx.logger.info(`[Inference] With challenger URI: ${request.uri}`);
  const version = await ctx.step("load", () => resolveModel(mlflow.registry, request));
  ctx.logger.info(`[Inference] Challenger resolved ${resolutionText(request, version)}`);
  const model = await ctx.step("load", async () => {
    const mlmodel = readMLmodel(await mlflow.registry.modelDirectory(version), version.uri);
    return loader.load(version.uri, await mlmodel, table);
  });
  ctx.logger.info(`[Inference] Challenger engine: ${model.engine}`);
  return { model, version };
}

/**
 * The `challenger` section: the comparison's figures, the rows that differ most named by their ids
 * (looked up in one pass over the id columns of the rows predicted).
 *
 * @param source - the rows predicted, in the order they were
 */
export async function challengerReport(
  db: Database,
  source: Source,
  idColumns: readonly string[],
  version: ModelVersion,
  results: Readonly<Record<string, ColumnResult>>,
): Promise<ChallengerReport> {
  const rows = [...new Set(Object.values(results).flatMap((r) => r.differences.map((d) => d.row)))];
  const ids = new Map<number, Record<string, string>>();
  if (rows.length > 0 && idColumns.length > 0) {
    const numbered = `(SELECT row_number() OVER () - 1 AS __mlbatch_pos, ${identifierList(idColumns)} FROM ${source.query()})`;
    const found = await db.rows(
      `SELECT * FROM ${numbered} WHERE ${quotedIdentifier("__mlbatch_pos")} IN (${rows.join(", ")})`,
    );
    for (const row of found) {
      ids.set(Number(row.__mlbatch_pos), Object.fromEntries(idColumns.map((c) => [c, String(row[c])])));
    }
  }
  const outputs = Object.fromEntries(
    Object.entries(results).map(([name, { differences, ...figures }]) => [
      name,
      {
        ...figures,
        top_differences: differences.map((d) => ({
          row: d.row,
          ids: ids.get(d.row) ?? {},
          champion: d.champion,
          challenger: d.challenger,
        })),
      },
    ]),
  );
  return { uri: version.uri, version: version.version, run_id: version.runId, outputs };
}
