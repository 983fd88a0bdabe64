/**
 * A sharded inference run: one copy of an array job (`--shard i/n`), or its `plan` and `commit` steps.
 * Each shard predicts its work units with the steps of a single run (jobs/steps/, predict.ts) into one
 * part file per unit; the last shard to finish commits. See the guide's "Sharded runs" for the protocol.
 */
import type { Database } from "../data/database.js";
import { MlbatchError } from "../errors.js";
import { versionUri } from "../registry/model-uri.js";
import type { CommitOutcome } from "../shard/commit.js";
import type { Shard } from "../shard/detect.js";
import { ShardLayout } from "../shard/layout.js";
import { type Plan, planConfigHash, verifyPlan } from "../shard/plan.js";
import { assignUnits } from "../shard/units.js";
import { Job, type JobOptions, type JobServices } from "./base.js";
import type { InferenceJobConfig } from "./inference-config.js";
import { servicesFromConfig } from "./services.js";
import { type InferenceSettings, inferenceSettings } from "./settings.js";
import { commitOnly, commitStep } from "./sharded/commit-step.js";
import { obtainPlan } from "./sharded/plan-step.js";
import type { ShardRun } from "./sharded/shard-run.js";
import { predictUnits } from "./sharded/unit-step.js";

/** What a sharded job is asked to do: run one shard, make the plan, or commit. */
export type ShardAction =
  | { readonly kind: "shard"; readonly shard: Shard }
  | { readonly kind: "plan" }
  | { readonly kind: "commit" };

/** What a sharded job did, returned by {@link ShardedInferenceJob.run}. */
export interface ShardLocals {
  readonly action: ShardAction["kind"];
  readonly shard?: Shard | undefined;
  /** The plan used (or made), and where it is. */
  readonly plan: Plan;
  readonly planPath: string;
  /** This shard's units: all, those it wrote, those it found done (resume). */
  readonly units: { readonly assigned: string[]; readonly written: string[]; readonly skipped: string[] };
  /** Rows of the units this shard wrote. */
  readonly rows: { readonly read: number; readonly written: number; readonly dropped: number };
  /** The commit: done (by this call or before), or the units still missing; undefined for `plan`. */
  readonly commit: CommitOutcome | undefined;
}

const NO_UNITS = { assigned: [], written: [], skipped: [] };
const NO_ROWS = { read: 0, written: 0, dropped: 0 };

/**
 * One shard of a sharded inference run, or its plan or commit step. The output `path` is a folder of
 * part files (`part-<unit>.parquet`) with `_plan.json` and the manifest `_SUCCESS`.
 *
 * @example
 * ```ts
 * await ShardedInferenceJob.fromConfig(config, { kind: "plan" }).execute();
 * await ShardedInferenceJob.fromConfig(config, { kind: "shard", shard: { index: 0, count: 4 } }).execute();
 * ```
 */
export class ShardedInferenceJob extends Job<ShardLocals> {
  protected readonly title: string;
  private readonly layout: ShardLayout;

  /**
   * @param services - logger, alerts and MLflow services
   * @param settings - the job's settings, as a single run takes them
   * @param planHash - {@link planConfigHash} of the config: what every shard must share
   * @param action - run a shard, plan, or commit
   */
  constructor(
    services: JobServices,
    private readonly settings: InferenceSettings,
    private readonly planHash: string,
    private readonly action: ShardAction,
    jobOptions: JobOptions = {},
  ) {
    super(services, jobOptions);
    this.layout = new ShardLayout(settings.outputs.path);
    this.title =
      action.kind === "shard"
        ? `Inference Job (shard ${action.shard.index}/${action.shard.count})`
        : action.kind === "plan"
          ? "Inference Plan"
          : "Inference Commit";
  }

  /**
   * Builds the job from a validated config.
   *
   * @throws MlbatchError `E_CONFIG` when the config uses what sharded runs do not support: an output other
   *   than ParquetWriter, `max_rows_per_file`, `inputs.limit`, quarantine, `validation.report`
   */
  static fromConfig(
    config: InferenceJobConfig,
    action: ShardAction,
    services: Partial<JobServices> = {},
  ): ShardedInferenceJob {
    const { outputs, inputs, validation } = config;
    const refuse = (what: string) => {
      throw new MlbatchError(
        "E_CONFIG",
        `sharded runs do not support ${what}; see the guide's "Sharded runs".`,
      );
    };
    if (outputs.KIND !== "ParquetWriter")
      refuse(`outputs.KIND ${outputs.KIND}: they write Parquet part files`);
    if (outputs.max_rows_per_file !== undefined)
      refuse("outputs.max_rows_per_file: there is one part per unit");
    if (inputs.limit !== undefined) refuse("inputs.limit");
    if (validation.on_invalid === "quarantine") refuse('on_invalid "quarantine" (use "drop" or "fail")');
    if (validation.report !== undefined) refuse("validation.report (each unit is validated on its own)");
    if (config.challenger !== undefined) refuse("job.challenger yet (run the challenger in a single run)");
    const planHash = planConfigHash(config);
    return new ShardedInferenceJob(
      servicesFromConfig(config, services),
      inferenceSettings(config),
      planHash,
      action,
      { report: config.report, configHash: planHash, mlflowRun: config.mlflow_run },
    );
  }

  /** @inheritdoc */
  run(): Promise<ShardLocals> {
    return this.withDatabase(async (db) => {
      const run = this.shardRun;
      if (this.action.kind === "commit") {
        const { plan, commit } = await commitOnly(run, db, (shape) => this.notifyFinished(shape));
        return { action: "commit", plan, planPath: this.layout.plan, units: NO_UNITS, rows: NO_ROWS, commit };
      }
      const replan = this.action.kind === "plan";
      const { plan, created, committed } = await this.step("read", () => obtainPlan(run, db, replan));
      const { name, version, asked } = plan.model;
      this.facts.model = { name, alias: undefined, uri: asked, version };
      this.facts.inputs = plan.inputs.path;
      const base = { action: this.action.kind, plan, planPath: this.layout.plan };
      if (this.action.kind === "plan") {
        this.logger.info(
          `[Inference] Plan ${created ? "written" : "kept"}: ${this.layout.plan} (${plan.units.length} units, ` +
            `${plan.rows} rows, ${versionUri(name, version)})`,
        );
        return { ...base, units: NO_UNITS, rows: NO_ROWS, commit: committed };
      }
      const { shard } = this.action;
      if (committed !== undefined) {
        this.logger.info(
          `[Inference] Already committed: ${this.layout.output} (plan ${plan.plan_id.slice(0, 12)})`,
        );
        return { ...base, shard, units: NO_UNITS, rows: NO_ROWS, commit: committed };
      }
      const done = await this.predictShard(db, plan, shard, created);
      return { ...base, shard, units: done.units, rows: done.rows, commit: done.commit };
    });
  }

  /** This shard's units predicted (those without a valid part), then the commit when they are all done. */
  private async predictShard(db: Database, plan: Plan, shard: Shard, created: boolean) {
    const mine = assignUnits(plan.units, shard.count)[shard.index] ?? [];
    const files = mine.map((unit) => unit.file);
    if (!created) await this.step("read", () => verifyPlan(plan, this.layout.plan, this.planHash, files));
    this.logger.info(
      `[Inference] Shard ${shard.index}/${shard.count}: ${mine.length} of ${plan.units.length} units ` +
        `(${mine.reduce((n, u) => n + u.rows, 0)} of ${plan.rows} rows), model ${versionUri(plan.model.name, plan.model.version)}`,
    );
    const run = this.shardRun;
    const done = await predictUnits(run, plan, mine);
    if (done.committed !== undefined) {
      const commit = { status: "committed", manifest: done.committed, byThisCall: false } as const;
      return { ...done, commit };
    }
    return { ...done, commit: await commitStep(run, db, plan, (shape) => this.notifyFinished(shape)) };
  }

  /** What the sharded steps are given. */
  private get shardRun(): ShardRun {
    return {
      ctx: this.context,
      settings: this.settings,
      layout: this.layout,
      planHash: this.planHash,
      mlflow: this.services.mlflow,
      report: this.jobOptions.report,
      withDatabase: (work) => this.withDatabase(work),
    };
  }

  private async notifyFinished(shape: readonly [number, number]): Promise<void> {
    await this.services.alerts.notify({ ...this.event("finished"), shape, warning: this.facts.warning });
  }
}
