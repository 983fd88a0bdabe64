/**
 * The commit step of a sharded run: when every planned unit has a valid part, the manifest is written and
 * the output published once; `mlbatch commit` does it on demand and says which units are missing.
 */
import { join } from "node:path";
import type { Database } from "../../data/database.js";
import { MlbatchError } from "../../errors.js";
import { type CommitOutcome, commitRun, recoverStaging } from "../../shard/commit.js";
import { PLAN } from "../../shard/layout.js";
import { type Plan, readPlan, verifyPlan } from "../../shard/plan.js";
import { atStep } from "../context.js";
import type { ShardRun } from "./shard-run.js";

/**
 * Commits when every unit has a valid part (step write); the committing call notifies the outputs' shape.
 *
 * @param notify - sends the `Finished` notification with the outputs' shape
 */
export async function commitStep(
  run: ShardRun,
  db: Database,
  plan: Plan,
  notify: (shape: readonly [number, number]) => Promise<void>,
): Promise<CommitOutcome> {
  const { ctx, layout, settings } = run;
  const outcome = await ctx.step("write", () => commitRun(db, layout, plan, settings.outputs.mode));
  if (outcome.status === "incomplete") {
    ctx.logger.info(
      `[Inference] Not committed yet: ${outcome.missing.length} of ${plan.units.length} units still missing`,
    );
    return outcome;
  }
  const { manifest } = outcome;
  ctx.facts.outputs = layout.output;
  ctx.facts.rows = {
    read: manifest.rows.read,
    written: manifest.rows.written,
    rejected: manifest.rows.dropped,
  };
  if (outcome.byThisCall) {
    ctx.logger.info(
      `[Inference] Committed ${layout.output}: ${manifest.parts.length} parts, ${manifest.rows.written} rows`,
    );
    if (plan.drift !== undefined) {
      // Found when the plan was made, over the whole input: this run's report and notification carry it.
      ctx.facts.profile = plan.drift.profile;
      if (plan.drift.report !== null) ctx.facts.drift = plan.drift.report;
      const { warning } = plan.drift;
      // The shard that made the plan warned then already.
      if (warning !== null && ctx.facts.warning !== warning) {
        ctx.logger.warn(`[Inference] ${warning}`);
        ctx.facts.warning = warning;
      }
    }
    await notify([manifest.rows.written, manifest.columns.length]);
  }
  return outcome;
}

/**
 * `mlbatch commit`: commits the planned run (step write).
 *
 * @returns the plan and the commit
 * @throws MlbatchError `E_CONFIG` without a plan; `E_WRITE` listing the units still missing
 */
export async function commitOnly(
  run: ShardRun,
  db: Database,
  notify: (shape: readonly [number, number]) => Promise<void>,
): Promise<{ plan: Plan; commit: CommitOutcome }> {
  const { layout } = run;
  await recoverStaging(layout);
  const plan = (await readPlan(layout.plan)) ?? (await readPlan(join(layout.output, PLAN)));
  if (plan === undefined) {
    const message =
      `nothing to commit: no plan in "${layout.staging}" or "${layout.output}". Run "mlbatch plan <config>" ` +
      "and the shards first.";
    throw atStep("write", new MlbatchError("E_CONFIG", message));
  }
  await verifyPlan(plan, layout.plan, run.planHash, []);
  const commit = await commitStep(run, db, plan, notify);
  if (commit.status === "incomplete") {
    const list = commit.missing
      .slice(0, 20)
      .map((u) => `${u.id} (${plan.inputs.files[u.file]?.path}, ${u.rows} rows)`)
      .join(", ");
    const more = commit.missing.length > 20 ? `, and ${commit.missing.length - 20} more` : "";
    const message =
      `cannot commit "${layout.output}": ${commit.missing.length} of ${plan.units.length} units have no valid ` +
      `part yet: ${list}${more}. Run (or rerun) the shards that own them, then commit again.`;
    throw atStep("write", new MlbatchError("E_WRITE", message));
  }
  return { plan, commit };
}
