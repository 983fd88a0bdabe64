/**
 * A sharded inference run: one copy of an array job (`--shard i/n`), or its `plan` and `commit` steps.
 * Each shard predicts its work units with the job's machinery (validation, {@link predictTable}, the
 * outputs query) into one part file per unit; the last shard to finish commits. See the guide's
 * "Sharded runs" for the protocol.
 */
import { mkdir, rm } from "node:fs/promises";
import { join } from "node:path";
import { Database } from "../data/database.js";
import { checkOutputsApart } from "../data/overlap.js";
import { createReader, type ReaderKind } from "../data/readers/index.js";
import { identifierList } from "../data/sql.js";
import { checkTarget } from "../data/writers/atomic.js";
import { createWriter, type Writer } from "../data/writers/index.js";
import type { ParquetCompression } from "../data/writers/parquet-writer.js";
import { MlbatchError } from "../errors.js";
import { createLoader, type Loader } from "../models/loaders/index.js";
import { readMLmodel } from "../models/mlmodel.js";
import type { FeatureSpec, Model } from "../models/model.js";
import { FEED_TYPE } from "../models/signature.js";
import { versionUri } from "../registry/model-uri.js";
import { modelRequest, resolutionText, resolveModel } from "../registry/request.js";
import { type CommitOutcome, commitRun, committedManifest, recoverStaging } from "../shard/commit.js";
import type { Shard } from "../shard/detect.js";
import { createExclusive } from "../shard/exclusive.js";
import { PLAN, ShardLayout } from "../shard/layout.js";
import { checkPart, writePart } from "../shard/parts.js";
import { type Plan, planConfigHash, readPlan, sealPlan, verifyPlan } from "../shard/plan.js";
import { assignUnits, inputUnit, listUnits } from "../shard/units.js";
import { Job, type JobOptions, type JobServices } from "./base.js";
import type { InferenceJobConfig } from "./inference.js";
import { outputColumns } from "./output-columns.js";
import { predictTable } from "./predict.js";
import { servicesFromConfig } from "./services.js";
import { checkInputsWith, outputsQuery, type ValidationPolicy } from "./validation.js";

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

interface ShardedOptions {
  readonly inputs: ReaderKind;
  readonly outputs: {
    readonly path: string;
    readonly mode: "error" | "overwrite";
    readonly compression: ParquetCompression;
  };
  readonly writer: Writer;
  readonly loader: Loader;
  readonly aliasOrVersion: string | number;
  readonly modelUri?: string | undefined;
  readonly idColumns?: readonly string[] | undefined;
  readonly passthrough: readonly string[];
  readonly modelVersionColumn?: string | undefined;
  readonly validation: ValidationPolicy;
  readonly batchSize: number;
  /** {@link planConfigHash} of the config. */
  readonly planHash: string;
}

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
   * @param options - the job's settings, as {@link ShardedInferenceJob.fromConfig} maps them
   * @param action - run a shard, plan, or commit
   */
  constructor(
    services: JobServices,
    private readonly options: ShardedOptions,
    private readonly action: ShardAction,
    jobOptions: JobOptions = {},
  ) {
    super(services, jobOptions);
    this.layout = new ShardLayout(options.outputs.path);
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
    return new ShardedInferenceJob(
      servicesFromConfig(config, services),
      {
        inputs,
        outputs: {
          path: outputs.path,
          mode: outputs.mode,
          compression: outputs.KIND === "ParquetWriter" ? outputs.compression : "snappy",
        },
        writer: createWriter(outputs),
        loader: createLoader(config.loader),
        aliasOrVersion: config.alias_or_version,
        modelUri: config.model_uri,
        idColumns: config.id_columns,
        passthrough: config.passthrough,
        modelVersionColumn: config.model_version_column,
        validation: {
          constraints: validation.constraints,
          cast: validation.cast,
          onInvalid: validation.on_invalid,
          maxInvalidRows: validation.max_invalid_rows,
          maxInvalidFraction: validation.max_invalid_fraction,
        },
        batchSize: config.batch_size,
        planHash: planConfigHash(config),
      },
      action,
      { report: config.report, configHash: planConfigHash(config), mlflowRun: config.mlflow_run },
    );
  }

  /** @inheritdoc */
  async run(): Promise<ShardLocals> {
    const db = await Database.create();
    const stop = this.interruptOnAbort(db);
    try {
      if (this.action.kind === "commit") return await this.commitOnly(db);
      const { plan, created, committed } = await this.step("read", () => this.obtainPlan(db));
      this.facts.model = {
        name: plan.model.name,
        alias: undefined,
        uri: plan.model.asked,
        version: plan.model.version,
      };
      this.facts.inputs = plan.inputs.path;
      const base = { action: this.action.kind, plan, planPath: this.layout.plan };
      const none = { assigned: [], written: [], skipped: [] };
      const zero = { read: 0, written: 0, dropped: 0 };
      if (this.action.kind === "plan") {
        this.logger.info(
          `[Inference] Plan ${created ? "written" : "kept"}: ${this.layout.plan} (${plan.units.length} units, ` +
            `${plan.rows} rows, ${versionUri(plan.model.name, plan.model.version)})`,
        );
        return { ...base, units: none, rows: zero, commit: committed };
      }
      const { shard } = this.action;
      if (committed !== undefined) {
        this.logger.info(
          `[Inference] Already committed: ${this.layout.output} (plan ${plan.plan_id.slice(0, 12)})`,
        );
        return { ...base, shard, units: none, rows: zero, commit: committed };
      }
      const mine = assignUnits(plan.units, shard.count)[shard.index] ?? [];
      if (!created) {
        await this.step("read", () =>
          verifyPlan(
            plan,
            this.layout.plan,
            this.options.planHash,
            mine.map((u) => u.file),
          ),
        );
      }
      this.logger.info(
        `[Inference] Shard ${shard.index}/${shard.count}: ${mine.length} of ${plan.units.length} units ` +
          `(${mine.reduce((n, u) => n + u.rows, 0)} of ${plan.rows} rows), model ${versionUri(plan.model.name, plan.model.version)}`,
      );
      const done = await this.predictUnits(db, plan, mine);
      if (done.committed !== undefined) return { ...base, shard, ...done, commit: done.committed };
      const commit = await this.commit(db, plan);
      return { ...base, shard, units: done.units, rows: done.rows, commit };
    } finally {
      stop();
      db.close();
    }
  }

  /** `mlbatch commit`: commits the planned run, or fails with the units still missing. */
  private async commitOnly(db: Database): Promise<ShardLocals> {
    await recoverStaging(this.layout);
    const plan = (await readPlan(this.layout.plan)) ?? (await readPlan(join(this.layout.output, PLAN)));
    if (plan === undefined) {
      throw Object.assign(
        new MlbatchError(
          "E_CONFIG",
          `nothing to commit: no plan in "${this.layout.staging}" or "${this.layout.output}". Run "mlbatch plan <config>" ` +
            "and the shards first.",
        ),
        { step: "write" as const },
      );
    }
    await verifyPlan(plan, this.layout.plan, this.options.planHash, []);
    const commit = await this.commit(db, plan);
    if (commit.status === "incomplete") {
      const list = commit.missing
        .slice(0, 20)
        .map((u) => `${u.id} (${plan.inputs.files[u.file]?.path}, ${u.rows} rows)`)
        .join(", ");
      const more = commit.missing.length > 20 ? `, and ${commit.missing.length - 20} more` : "";
      throw Object.assign(
        new MlbatchError(
          "E_WRITE",
          `cannot commit "${this.layout.output}": ${commit.missing.length} of ${plan.units.length} units have no valid ` +
            `part yet: ${list}${more}. Run (or rerun) the shards that own them, then commit again.`,
        ),
        { step: "write" as const },
      );
    }
    return {
      action: "commit",
      plan,
      planPath: this.layout.plan,
      units: { assigned: [], written: [], skipped: [] },
      rows: { read: 0, written: 0, dropped: 0 },
      commit,
    };
  }

  /**
   * The plan: read from the staging folder, or made (alias resolved, inputs listed and digested) and
   * written with an exclusive create, so that shards planning at once all use the first plan written.
   */
  private async obtainPlan(
    db: Database,
  ): Promise<{ plan: Plan; created: boolean; committed?: CommitOutcome }> {
    const path = this.layout.plan;
    await recoverStaging(this.layout);
    const existing = await readPlan(path);
    if (existing !== undefined && this.action.kind === "shard") return { plan: existing, created: false };
    const made = await this.makePlan(db);
    if (existing !== undefined) {
      if (existing.plan_id === made.plan_id) return { plan: existing, created: false };
      if (this.options.outputs.mode === "error") {
        throw new MlbatchError(
          "E_WRITE",
          `a different plan is in "${path}" (the config, the inputs or the model version changed) and ` +
            `outputs.mode is "error": remove "${this.layout.staging}" or set mode: overwrite to plan again ` +
            "(finished parts are then redone).",
        );
      }
      this.logger.warn(`[Inference] Replacing the plan ${path}: the config, inputs or model version changed`);
      await rm(this.layout.staging, { recursive: true, force: true });
    }
    const manifest = await committedManifest(this.layout);
    if (manifest?.plan_id === made.plan_id) {
      return { plan: made, created: false, committed: { status: "committed", manifest, byThisCall: false } };
    }
    // Like every writer: an output it would refuse to replace (not of this plan) is refused before any work.
    await checkTarget(this.layout.output, this.options.outputs.mode, "folder");
    await mkdir(this.layout.staging, { recursive: true });
    const created = await createExclusive(
      path,
      this.layout.temp("plan"),
      `${JSON.stringify(made, null, 2)}\n`,
    );
    if (created) return { plan: made, created };
    const winner = await readPlan(path);
    if (winner === undefined) throw new MlbatchError("E_WRITE", `the plan "${path}" vanished: run again.`);
    return { plan: winner, created: false };
  }

  /** Resolves the model version and cuts the inputs into units. */
  private async makePlan(db: Database): Promise<Plan> {
    const { inputs, passthrough } = this.options;
    const { mlflow } = this.services;
    await checkOutputsApart(inputs.path, [
      { key: "outputs.path", path: this.options.outputs.path, folder: true },
      { key: "report", path: this.jobOptions.report },
    ]);
    this.logger.info(`[Inference] Plan: read inputs ${inputs.path}`);
    const source = await createReader(inputs).open(db);
    const ids = this.options.idColumns ?? source.idColumns;
    const missing = [...ids, ...passthrough].filter((name) => source.typeOf(name) === undefined);
    if (missing.length > 0) {
      throw Object.assign(
        new MlbatchError(
          "E_SCHEMA",
          `id or passthrough column(s) ${identifierList(missing)} not found in inputs "${inputs.path}"; fix ` +
            "job.id_columns or job.passthrough.",
        ),
        { step: "validate" as const },
      );
    }
    const request = modelRequest(mlflow.registryName, this.options.aliasOrVersion, this.options.modelUri);
    const version = await this.step("load", () => resolveModel(mlflow.registry, request));
    if (version.version === null) {
      throw new MlbatchError(
        "E_CONFIG",
        `sharded runs load a registered model version, pinned in the plan; ${request.uri} is not one. ` +
          `Register it (mlflow.register_model("${request.uri}", "<name>")) and set job.model_uri to ` +
          "models:/<name>/<version>.",
      );
    }
    this.logger.info(`[Inference] Plan: ${resolutionText(request, version)} (run ${version.runId})`);
    const { files, units, folder } = await listUnits(db, createReader(inputs));
    return sealPlan({
      config_hash: this.options.planHash,
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
  }

  /** Predicts the units that have no valid part yet, each into its part; stops if another shard committed. */
  private async predictUnits(db: Database, plan: Plan, units: readonly Plan["units"][number][]) {
    const written: string[] = [];
    const skipped: Plan["units"][number][] = [];
    const rows = { read: 0, written: 0, dropped: 0 };
    const todo: Plan["units"][number][] = [];
    for (const unit of units) {
      const status = await checkPart(db, this.layout.part(unit.id), {
        planId: plan.plan_id,
        unit: unit.id,
        rows: unit.rows,
      });
      (status.valid ? skipped : todo).push(unit);
    }
    if (skipped.length > 0)
      this.logger.info(`[Inference] Resume: ${skipped.length} units already have valid parts`);
    const result = () => ({
      units: { assigned: units.map((u) => u.id), written, skipped: skipped.map((u) => u.id) },
      rows,
    });
    if (todo.length === 0) return { ...result(), committed: undefined };
    const { model, features, versionUri } = await this.loadModel(
      plan,
      await this.tableColumns(db, plan, todo[0]!),
    );
    try {
      for (const unit of todo) {
        const done = await this.predictUnit(plan, unit, model, features, versionUri).catch(
          async (error: unknown) => {
            // A twin shard (same index) may have committed and moved the staging folder away.
            const manifest = await committedManifest(this.layout, plan.plan_id);
            if (manifest === undefined) throw error;
            return manifest;
          },
        );
        if ("plan_id" in done) {
          this.logger.info(`[Inference] Another shard committed ${this.layout.output}: stopping`);
          return {
            ...result(),
            committed: { status: "committed", manifest: done, byThisCall: false } as const,
          };
        }
        written.push(unit.id);
        rows.read += unit.rows;
        rows.written += done.rows;
        rows.dropped += done.dropped;
      }
    } finally {
      await model.close();
    }
    this.facts.rows = { read: rows.read, written: rows.written, rejected: rows.dropped };
    return { ...result(), committed: undefined };
  }

  /** The input's columns (less the id columns), which feed a model whose signature names none. */
  private async tableColumns(db: Database, plan: Plan, unit: Plan["units"][number]): Promise<string[]> {
    const reader = createReader(this.options.inputs);
    const source = await this.step("read", () =>
      reader.openUnit(db, inputUnit(unit, plan.inputs.files), plan.inputs.folder),
    );
    return source.columns.map((c) => c.name).filter((name) => !plan.id_columns.includes(name));
  }

  /** Loads the planned model version (never the alias: it may have moved since the plan). */
  private async loadModel(
    plan: Plan,
    table: readonly string[],
  ): Promise<{ model: Model; features: readonly FeatureSpec[]; versionUri: string }> {
    const { mlflow } = this.services;
    const pinned = versionUri(plan.model.name, plan.model.version);
    this.logger.info(`[Inference] Load model: ${pinned} (planned for ${plan.model.asked})`);
    const model = await this.step("load", async () => {
      const version = await mlflow.registry.getModelVersion({
        name: plan.model.name,
        version: plan.model.version,
      });
      const mlmodel = await readMLmodel(await mlflow.registry.modelDirectory(version), pinned);
      return { mlmodel, model: await this.options.loader.load(pinned, mlmodel, table) };
    });
    this.logger.info(`[Inference] Model engine: ${model.model.engine}`);
    const signed = model.mlmodel.signature.inputs?.map(
      (c): FeatureSpec => ({ name: c.name, signatureType: c.type, type: FEED_TYPE[c.type] }),
    );
    try {
      outputColumns(plan.id_columns, this.options.passthrough, model.model, this.options.modelVersionColumn);
    } catch (error) {
      await model.model.close();
      throw error;
    }
    return { model: model.model, features: signed ?? model.model.inputs, versionUri: pinned };
  }

  /** Reads, validates and predicts one unit, then writes its part. */
  private async predictUnit(
    plan: Plan,
    unit: Plan["units"][number],
    model: Model,
    features: readonly FeatureSpec[],
    versionUri: string,
  ): Promise<{ rows: number; dropped: number }> {
    const file = plan.inputs.files[unit.file]!.path;
    const db = await Database.create();
    const stop = this.interruptOnAbort(db);
    try {
      const reader = createReader(this.options.inputs);
      const source = await this.step("read", () =>
        reader.openUnit(db, inputUnit(unit, plan.inputs.files), plan.inputs.folder),
      );
      const checked = await this.step("validate", () =>
        checkInputsWith(db, source, features, versionUri, this.options.validation, plan.id_columns),
      );
      if (checked.report.rows.total !== unit.rows) {
        throw new MlbatchError(
          "E_READ",
          `unit ${unit.id} of "${file}" has ${checked.report.rows.total} rows, the plan says ${unit.rows}: the input ` +
            'changed since the plan; plan again with "mlbatch plan <config>" and outputs.mode: overwrite.',
        );
      }
      const { batchSize, passthrough, modelVersionColumn } = this.options;
      const total = unit.rows - checked.rejected;
      const predictions = await this.step("predict", () =>
        predictTable(db, checked.source, model, {
          batchSize,
          logger: this.logger,
          total,
          signal: this.signal,
        }),
      );
      if (predictions.rowCount !== total) {
        throw new MlbatchError(
          "E_INTERNAL",
          `unit ${unit.id}: ${unit.rows} rows read, ${predictions.rowCount} predicted, ${checked.rejected} dropped`,
        );
      }
      const query = outputsQuery(
        checked.source,
        [...plan.id_columns, ...passthrough],
        predictions.sqlName,
        modelVersionColumn === undefined ? undefined : { name: modelVersionColumn, value: versionUri },
      );
      const part = this.layout.part(unit.id);
      const { rows, placed } = await this.step("write", () =>
        writePart(
          db,
          this.options.writer,
          async (sink) => {
            await sink.append(query);
          },
          { path: part, temp: this.layout.temp(`part-${unit.id}.parquet`) },
          { planId: plan.plan_id, unit: unit.id, rows: unit.rows, dropped: checked.rejected },
        ),
      );
      this.logger.info(
        `[Inference] Unit ${unit.id}: ${rows} rows ${placed ? "written" : "already written by a twin"} to ${part}`,
      );
      return { rows, dropped: checked.rejected };
    } finally {
      stop();
      db.close();
    }
  }

  /** Commits when every unit has a valid part; notifies the outputs' shape when this call committed. */
  private async commit(db: Database, plan: Plan): Promise<CommitOutcome> {
    const outcome = await this.step("write", () =>
      commitRun(db, this.layout, plan, this.options.outputs.mode),
    );
    if (outcome.status === "incomplete") {
      this.logger.info(
        `[Inference] Not committed yet: ${outcome.missing.length} of ${plan.units.length} units still missing`,
      );
      return outcome;
    }
    const { manifest } = outcome;
    this.facts.outputs = this.layout.output;
    this.facts.rows = {
      read: manifest.rows.read,
      written: manifest.rows.written,
      rejected: manifest.rows.dropped,
    };
    if (outcome.byThisCall) {
      this.logger.info(
        `[Inference] Committed ${this.layout.output}: ${manifest.parts.length} parts, ${manifest.rows.written} rows`,
      );
      const shape = [manifest.rows.written, manifest.columns.length] as const;
      await this.services.alerts.notify({ ...this.event("finished"), shape });
    }
    return outcome;
  }
}
