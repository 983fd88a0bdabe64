import type { Batch } from "../data/batch.js";
import type { Database } from "../data/database.js";
import type { ValidationReport } from "../data/validation-report.js";
import type { StagedOutput } from "../data/writers/atomic.js";
import type { Model } from "../models/model.js";
import type { ModelVersion } from "../registry/registry.js";
import { configHash } from "../report/config-hash.js";
import { Job, type JobOptions, type JobServices, type RunOptions } from "./base.js";
import { Comparison } from "./challenger/comparison.js";
import { Distributions } from "./challenger/distributions.js";
import { observer } from "./challenger/observer.js";
import { PairedModel } from "./challenger/paired-model.js";
import { atStep } from "./context.js";
import {
  loggedProfile,
  type ProfileOptions,
  type TrainingProfile,
  trainingProfile,
} from "./drift/training-profile.js";
import { driftVerdict, failFast, startDrift } from "./drift/verdict.js";
import type { InferenceJobConfig } from "./inference-config.js";
import { type PredictRun, predictInto } from "./predict.js";
import { servicesFromConfig } from "./services.js";
import { type InferenceSettings, inferenceSettings } from "./settings.js";
import { challengerReport, type LoadedChallenger, loadChallenger } from "./steps/challenger.js";
import { checkAndLoad } from "./steps/check.js";
import { modelTable, openInputs } from "./steps/inputs.js";
import { readModel, requestOf, resolveLogged } from "./steps/model.js";
import { checkOutputs, outputColumns } from "./steps/outputs.js";
import { commitTogether, reconcile } from "./steps/write.js";
import type { CheckedInputs } from "./validation/policy.js";
import { validationSummary } from "./validation/summary.js";

export { InferenceJobConfig } from "./inference-config.js";

/** What an inference job did, returned by {@link InferenceJob.run}. */
export interface InferenceLocals {
  readonly inputs: { readonly path: string; readonly columns: readonly string[] };
  /** The URI the job asked for (`models:/bikes@Champion`). */
  readonly modelUri: string;
  /** The version it resolved to. */
  readonly modelVersion: ModelVersion;
  /** The loaded model's input and output columns. */
  readonly model: Pick<Model, "uri" | "inputs" | "outputs">;
  readonly outputs: { readonly path: string; readonly columns: readonly string[]; readonly rows: number };
  /** (rows, columns) of the outputs. */
  readonly shape: readonly [number, number];
  /** Rows read, predicted, and set aside as invalid (read = predicted + dropped + quarantined). */
  readonly rows: {
    readonly read: number;
    readonly predicted: number;
    readonly dropped: number;
    readonly quarantined: number;
  };
  /** What validation found. */
  readonly validation: ValidationReport;
}

/** What {@link InferenceJob.validate} found: the model, the report, and a summary to print. */
export interface InferenceValidation {
  readonly modelUri: string;
  readonly modelVersion: ModelVersion;
  readonly report: ValidationReport;
  /** Rows a run would drop or quarantine. */
  readonly rejected: number;
  /** The outcome in a few readable lines. */
  readonly summary: string;
}

/** Everything a run checks before predicting (and all `validate` does), the model loaded. */
interface Checked {
  readonly asked: string;
  readonly idColumns: readonly string[];
  readonly model: Model;
  readonly version: ModelVersion;
  readonly checked: CheckedInputs;
  readonly columns: string[];
  /** The Challenger, when asked (then `model` is the pair of both). */
  readonly challenger: LoadedChallenger | undefined;
  /** The Champion's outputs. */
  readonly championOutputs: readonly string[];
}

/**
 * The batch-inference job of the reference package: reads the inputs, checks them against the model's
 * signature, loads the registered model by alias or version, predicts in batches, writes the predictions
 * next to the inputs' id columns (one row per input row, in input order), and notifies the outputs' shape.
 *
 * @example
 * ```ts
 * const job = InferenceJob.fromConfig(InferenceJobConfig.parse({
 *   KIND: "InferenceJob",
 *   inputs: { KIND: "ParquetReader", path: "data/inputs_test.parquet" },
 *   outputs: { KIND: "ParquetWriter", path: "outputs/predictions_test.parquet" },
 * }));
 * const locals = await job.execute();
 * ```
 */
export class InferenceJob extends Job<InferenceLocals> {
  protected readonly title = "Inference Job";

  /**
   * @param services - logger, alerts and MLflow services
   * @param settings - the reader, writer, loader, model, columns, validation and batch size
   */
  constructor(
    services: JobServices,
    private readonly settings: InferenceSettings,
    jobOptions: JobOptions = {},
  ) {
    super(services, jobOptions);
  }

  /**
   * Builds the job and its services from a validated config.
   *
   * @param config - the job's config
   * @param services - services to use instead of those the config describes (e.g. with captured output)
   */
  static fromConfig(config: InferenceJobConfig, services: Partial<JobServices> = {}): InferenceJob {
    return new InferenceJob(servicesFromConfig(config, services), inferenceSettings(config), {
      report: config.report,
      reportHtml: config.report_html,
      configHash: configHash(config),
      mlflowRun: config.mlflow_run,
    });
  }

  /** @inheritdoc */
  run(): Promise<InferenceLocals> {
    return this.withDatabase(async (db) => {
      const checked = await this.checked(db);
      try {
        return await this.predicted(db, checked);
      } finally {
        await checked.model.close();
      }
    });
  }

  /**
   * Checks everything a run needs, without predicting or writing: the outputs may be written, the inputs
   * are readable, the model version resolves and loads, and the inputs pass validation, with the report a
   * run would make (and write, with `validation.report`). Starts and stops the logger and MLflow
   * services; sends no notification.
   *
   * @returns the report, the rows a run would set aside, and a summary to print
   * @throws MlbatchError as {@link InferenceJob.run} would up to validation (`E_SCHEMA` with the report)
   * @example
   * ```ts
   * const { summary } = await InferenceJob.fromConfig(config).validate();
   * ```
   */
  validate(options: RunOptions = {}): Promise<InferenceValidation> {
    const work = () =>
      this.withDatabase(async (db) => {
        const { asked, version, model, checked } = await this.checked(db);
        await model.close();
        const { report, rejected } = checked;
        const summary = validationSummary(checked, this.settings.validation, asked);
        return { modelUri: asked, modelVersion: version, report, rejected, summary };
      });
    return this.lifecycle(work, { signal: options.signal, notify: false });
  }

  /**
   * Profiles training data over the input columns of the job's model version and writes the profile, a
   * reference for `drift` (`mlbatch profile`). Starts and stops the logger and MLflow services; sends no
   * notification.
   *
   * @throws MlbatchError see {@link trainingProfile}
   * @example
   * ```ts
   * await InferenceJob.fromConfig(config).profile({ data: "train.parquet", output: "train.profile.json" });
   * ```
   */
  profile(options: ProfileOptions & RunOptions): Promise<TrainingProfile> {
    const work = () =>
      this.withDatabase((db) =>
        trainingProfile(this.context, db, this.services.mlflow, this.settings, options),
      );
    return this.lifecycle(work, { signal: options.signal, notify: false });
  }

  /**
   * What a run and `validate` share: the outputs may be written, the inputs open, the model version
   * resolved and loaded, the inputs validated (against the signature while the model loads, when it names
   * columns, else against what the model reads) and the output columns known. The caller closes the model.
   */
  private async checked(db: Database): Promise<Checked> {
    // A loader that will run the model in a local Python starts it now: its imports run while the job
    // resolves the model and opens the inputs. Whatever no load took is stopped once the model is loaded,
    // or the job has failed.
    const { loader } = this.settings;
    loader.prestart?.();
    try {
      return await this.checkedLoaded(db);
    } finally {
      await loader.release?.();
    }
  }

  private async checkedLoaded(db: Database): Promise<Checked> {
    const ctx = this.context;
    const { inputs, loader, validation } = this.settings;
    await ctx.step("write", () =>
      checkOutputs(this.settings, this.jobOptions, () => {
        ctx.facts.reportsRefused = true;
      }),
    );
    ctx.logger.info(`[Inference] Read inputs: ${inputs.path}`);
    ctx.facts.inputs = inputs.path;
    // Drift and the Challenger's report query the rows themselves: remote files whole.
    const wholeFiles = this.settings.drift !== undefined || this.settings.challenger !== undefined;
    const opened = await openInputs(ctx, () => inputs.open(db, { wholeFiles }), this.settings);
    const request = requestOf(this.services.mlflow, this.settings);
    const resolved = await readModel(
      ctx,
      this.services.mlflow,
      await resolveLogged(ctx, this.services.mlflow, request),
    );
    const { source, table } = await modelTable(ctx, opened, resolved.mlmodel);
    const fed = { source, idColumns: opened.idColumns };
    const loaded = await checkAndLoad(ctx, db, {
      inputs: fed,
      resolved,
      table,
      loader,
      policy: validation,
    });
    const { checked } = loaded;
    let model = loaded.model;
    const championOutputs = model.outputs.map((o) => o.name);
    try {
      const challenger = await this.challenger(table, model);
      if (challenger !== undefined) model = PairedModel.create(model, challenger.model);
      const columns = await ctx.step(
        "validate",
        async () => outputColumns(opened.idColumns, this.settings, model),
        null,
      );
      return {
        asked: request.uri,
        idColumns: opened.idColumns,
        model,
        version: resolved.version,
        checked,
        columns,
        challenger,
        championOutputs,
      };
    } catch (error) {
      await model.close();
      throw error;
    }
  }

  /** Loads the Challenger when asked (closed, with the Champion, when it cannot be paired). */
  private async challenger(table: readonly string[], champion: Model): Promise<LoadedChallenger | undefined> {
    const asked = this.settings.challenger;
    if (asked === undefined) return undefined;
    const loaded = await loadChallenger(
      this.context,
      this.services.mlflow,
      this.settings.loader,
      asked,
      table,
    );
    try {
      PairedModel.create(champion, loaded.model);
    } catch (error) {
      await loaded.model.close();
      throw atStep("load", error);
    }
    return loaded;
  }

  /** Predicts and writes the outputs (and the quarantine), commits them together, and notifies. */
  private async predicted(db: Database, run: Checked): Promise<InferenceLocals> {
    const ctx = this.context;
    const { outputs, validation } = this.settings;
    const { model, checked } = run;
    ctx.logger.info(`[Inference] Predict outputs: ${model.outputs.map((o) => o.name).join(", ")}`);
    let predicted = 0;
    const comparison = run.challenger && new Comparison(run.championOutputs);
    const counted =
      this.jobOptions.reportHtml !== undefined ||
      this.settings.drift !== undefined ||
      run.challenger !== undefined
        ? new Distributions(run.championOutputs)
        : undefined;
    const drift = this.settings.drift;
    // The model's profile is read first: a run without one fails before predicting anything.
    const logged =
      drift?.reference === "model"
        ? await ctx.step("validate", () => loggedProfile(this.services.mlflow.registry, run.version), "drift")
        : undefined;
    const profiling = startDrift(
      ctx,
      db,
      drift && {
        settings: drift,
        source: checked.source,
        features: run.model.inputs.map((f) => f.name),
        report: this.jobOptions.report,
        logged,
      },
    );
    // With on_drift: fail, a drift found while the rows are predicted stops them at the next batch.
    const verdict = drift?.onDrift === "fail" ? failFast(ctx, profiling) : undefined;
    const observe = observer(comparison, counted, verdict);
    const staged = await this.written(db, run, (rows) => (predicted = rows), observe).catch(
      async (error: unknown) => {
        await profiling.catch(() => undefined);
        throw error;
      },
    );
    if (counted !== undefined) ctx.facts.predictions = counted.result();
    try {
      if (verdict === undefined) driftVerdict(ctx, await profiling, "warn");
      else await verdict.settled;
      if (comparison !== undefined && run.challenger !== undefined) {
        const { source } = checked;
        const { version } = run.challenger;
        ctx.facts.challenger = await ctx.step(
          "predict",
          () => challengerReport(db, source, run.idColumns, version, comparison.result()),
          "challenger",
        );
      }
    } catch (error) {
      await staged.discard().catch(() => undefined);
      throw error;
    }
    const { quarantine } = checked;
    const writer = validation.quarantine;
    const later =
      quarantine === undefined || writer === undefined ? [] : [() => writer.stageRows(db, quarantine)];
    await ctx.step("write", () => commitTogether(staged, later));
    const read = checked.report.rows.total;
    const { rejected } = checked;
    const rows = staged.rows;
    ctx.facts.rows = { read, written: rows, rejected };
    ctx.facts.outputs = outputs.path;
    const shape = [rows, run.columns.length] as const;
    ctx.logger.info("[Inference] Notify with alerts");
    await this.services.alerts.notify({ ...this.event("finished"), shape, warning: ctx.facts.warning });
    return {
      inputs: { path: this.settings.inputs.path, columns: checked.source.columns.map((c) => c.name) },
      modelUri: run.asked,
      modelVersion: run.version,
      model: { uri: model.uri, inputs: model.inputs, outputs: model.outputs },
      outputs: { path: outputs.path, columns: run.columns, rows },
      shape,
      rows: {
        read,
        predicted,
        dropped: validation.onInvalid === "drop" ? rejected : 0,
        quarantined: validation.onInvalid === "quarantine" ? rejected : 0,
      },
      validation: checked.report,
    };
  }

  /**
   * The outputs staged, their rows predicted into the writer as they come (on a connection of its own);
   * the counts reconciled and the write logged once every row is predicted.
   */
  private async written(
    db: Database,
    run: Checked,
    counted: (rows: number) => void,
    observe: ((predictions: Batch) => void) | undefined,
  ): Promise<StagedOutput> {
    const ctx = this.context;
    const { outputs, validation, passthrough, modelVersionColumn, batchSize } = this.settings;
    const { model, checked, idColumns } = run;
    const read = checked.report.rows.total;
    const { rejected } = checked;
    const column = modelVersionColumn;
    const predict: PredictRun = {
      source: checked.source,
      model,
      batchSize,
      total: read - rejected,
      carried: [...idColumns, ...passthrough],
      constant: column === undefined ? undefined : { name: column, value: run.version.uri },
      observe,
      predicted: (rows) => {
        counted(rows);
        const action = validation.onInvalid === "quarantine" ? "quarantined" : "dropped";
        ctx.logger.info(
          `[Inference] Write outputs: ${outputs.path} (${reconcile(read, rows, rejected, action)})`,
        );
        ctx.facts.rows = { read, rejected };
      },
    };
    // The reference writes its predictions indexed as the inputs: so do the Parquet outputs.
    const pandasIndex = this.settings.idColumns === undefined ? idColumns : [];
    const writes = await db.fork();
    try {
      // Tagged, not a step: the rows are predicted (step predict) and written (step write) as they come.
      return await outputs
        .stageRows(writes, async (sink) => void (await predictInto(ctx, db, sink, predict)), { pandasIndex })
        .catch((error: unknown) => {
          throw atStep("write", error);
        });
    } finally {
      writes.close();
    }
  }
}
