/**
 * The plan step of a sharded run: the plan read from the staging folder, or made (the model version the
 * alias resolves to pinned, the inputs listed, digested and cut into units) and written with an exclusive
 * create, so that shards planning at once all use the first plan written.
 */
import type { Database } from "../../data/database.js";
import { checkOutputsApart } from "../../data/overlap.js";
import type { Source } from "../../data/source.js";
import { checkTarget } from "../../data/writers/atomic.js";
import { MlbatchError } from "../../errors.js";
import type { ModelVersion } from "../../registry/index.js";
import { resolutionText } from "../../registry/request.js";
import { type CommitOutcome, clearStaging, committedManifest, recoverStaging } from "../../shard/commit.js";
import { createExclusive } from "../../shard/exclusive.js";
import { type Plan, type PlanDrift, readPlan, sealPlan } from "../../shard/plan.js";
import { listUnits } from "../../shard/units.js";
import { driftOf } from "../drift/step.js";
import { loggedProfile } from "../drift/training-profile.js";
import { driftVerdict } from "../drift/verdict.js";
import { idColumnsOf } from "../steps/inputs.js";
import { readModel, requestOf, resolveVersion } from "../steps/model.js";
import { outputPaths } from "../steps/outputs.js";
import type { ShardRun } from "./shard-run.js";

/** The plan a shard or `mlbatch plan` works with: whether this call wrote it, and a commit already made. */
export interface ObtainedPlan {
  readonly plan: Plan;
  readonly created: boolean;
  readonly committed?: CommitOutcome | undefined;
}

/**
 * Reads or makes the plan. A shard uses the plan it finds; `mlbatch plan` makes one and keeps the plan
 * found when it is the same, replaces it with `mode: overwrite`, else refuses.
 *
 * @param replan - make the plan even when one exists (`mlbatch plan`)
 * @throws MlbatchError `E_WRITE` when another plan is there (mode error) or the output may not be replaced
 */
export async function obtainPlan(run: ShardRun, db: Database, replan: boolean): Promise<ObtainedPlan> {
  const { layout, settings, ctx } = run;
  const path = layout.plan;
  await recoverStaging(layout);
  const existing = await readPlan(path);
  if (existing !== undefined && !replan) return { plan: existing, created: false };
  const made = await makePlan(run, db);
  if (existing !== undefined) {
    if (existing.plan_id === made.plan_id) return { plan: existing, created: false };
    if (settings.outputs.mode === "error") {
      throw new MlbatchError(
        "E_WRITE",
        `a different plan is in "${path}" (the config, the inputs or the model version changed) and ` +
          `outputs.mode is "error": remove "${layout.staging}" or set mode: overwrite to plan again ` +
          "(finished parts are then redone).",
      );
    }
    ctx.logger.warn(`[Inference] Replacing the plan ${path}: the config, inputs or model version changed`);
    await clearStaging(layout);
  }
  const manifest = await committedManifest(layout);
  if (manifest?.plan_id === made.plan_id) {
    return { plan: made, created: false, committed: { status: "committed", manifest, byThisCall: false } };
  }
  // Like every writer: an output it would refuse to replace (not of this plan) is refused before any work.
  await checkTarget(layout.output, settings.outputs.mode, "folder");
  await layout.prepare();
  const created = await createExclusive(path, layout.temp("plan"), `${JSON.stringify(made, null, 2)}\n`);
  if (created) return { plan: made, created };
  const winner = await readPlan(path);
  if (winner === undefined) throw new MlbatchError("E_WRITE", `the plan "${path}" vanished: run again.`);
  return { plan: winner, created: false };
}

/** Resolves the model version and cuts the inputs into units. */
async function makePlan(run: ShardRun, db: Database): Promise<Plan> {
  const { ctx, settings, mlflow, planHash } = run;
  const { inputs } = settings;
  await checkOutputsApart(inputs.path, outputPaths(settings, run.report, true));
  ctx.logger.info(`[Inference] Plan: read inputs ${inputs.path}`);
  // The columns and id columns only: a Parquet object's footer, not its data (the cut reads footers too).
  const source = await inputs.describe(db);
  const ids = await ctx.step("validate", async () => idColumnsOf(source, settings), null);
  const request = requestOf(mlflow, settings);
  const version = await resolveVersion(ctx, mlflow, request);
  if (version.version === null) {
    throw new MlbatchError(
      "E_CONFIG",
      `sharded runs load a registered model version, pinned in the plan; ${request.uri} is not one. ` +
        `Register it (mlflow.register_model("${request.uri}", "<name>")) and set job.model_uri to ` +
        "models:/<name>/<version>.",
    );
  }
  ctx.logger.info(`[Inference] Plan: ${resolutionText(request, version)} (run ${version.runId})`);
  const { files, units, folder } = await listUnits(db, inputs);
  // The drift profile queries every row with SQL: the whole input, not the footer describe() reads.
  const drift =
    settings.drift === undefined
      ? undefined
      : await planDrift(run, db, await inputs.open(db, { wholeFiles: true }), version);
  const plan = sealPlan({
    config_hash: planHash,
    model: {
      asked: request.uri,
      name: version.name,
      version: version.version,
      run_id: version.runId,
      source: version.source,
    },
    inputs: { path: inputs.path, folder, files },
    id_columns: [...ids],
    units,
    rows: units.reduce((sum, unit) => sum + unit.rows, 0),
  });
  return drift === undefined ? plan : { ...plan, drift };
}

/**
 * `job.drift` of a sharded run, once over the whole input while planning: before any unit is predicted,
 * so that `on_drift: fail` stops the run before it writes anything (the plan is not written either).
 *
 * @throws MlbatchError `E_DRIFT` for a drift with `on_drift: fail`; `E_CONFIG` when the columns to
 * profile are unknown (no signature and no `drift.columns`); the reference's errors
 */
async function planDrift(
  run: ShardRun,
  db: Database,
  source: Source,
  version: ModelVersion,
): Promise<PlanDrift> {
  const { ctx, mlflow } = run;
  const settings = run.settings.drift!;
  let features: readonly string[] = [];
  if (settings.columns === undefined) {
    const resolved = await readModel(ctx, mlflow, version);
    if (resolved.signed === undefined) {
      throw new MlbatchError(
        "E_CONFIG",
        `model ${version.uri} has no column signature: a sharded run cannot tell which columns job.drift ` +
          "profiles before loading it. Set job.drift.columns.",
      );
    }
    features = resolved.signed.map((f) => f.name);
  }
  const logged =
    settings.reference === "model"
      ? await ctx.step("validate", () => loggedProfile(mlflow.registry, version), "drift")
      : undefined;
  const outcome = await ctx.step(
    "validate",
    () => driftOf(db, { settings, source, features, report: run.report, logged }),
    "drift",
  );
  driftVerdict(ctx, outcome, settings.onDrift);
  return { profile: outcome.profile, report: outcome.drift ?? null, warning: ctx.facts.warning ?? null };
}
