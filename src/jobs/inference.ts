import { Database } from "../data/database.js";
import { checkOutputsApart } from "../data/overlap.js";
import { createReader, type Reader } from "../data/readers/index.js";
import type { Source } from "../data/source.js";
import { problemLines, type ValidationReport } from "../data/validation-report.js";
import { createWriter, type Writer } from "../data/writers/index.js";
import { MlbatchError } from "../errors.js";
import { createLoader, type Loader } from "../models/loaders/index.js";
import { readMLmodel } from "../models/mlmodel.js";
import type { FeatureSpec, Model } from "../models/model.js";
import { FEED_TYPE } from "../models/signature.js";
import type { ModelVersion } from "../registry/registry.js";
import { modelRequest, resolutionText, resolveModel } from "../registry/request.js";
import { configHash } from "../report/config-hash.js";
import { Job, type JobOptions, type JobServices, type RunOptions } from "./base.js";
import type { InferenceJobConfig } from "./inference-config.js";
import { outputColumns } from "./output-columns.js";
import { predictTable } from "./predict.js";
import { servicesFromConfig } from "./services.js";
import {
  type CheckedInputs,
  checkInputsWith,
  outputsQuery,
  type ValidationPolicy,
  validationSummary,
  writeOutputs,
} from "./validation.js";

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
   * @param options - the reader, writer, loader, model alias or version, id columns and batch size
   */
  constructor(
    services: JobServices,
    private readonly options: {
      readonly inputs: Reader;
      readonly outputs: Writer;
      readonly loader: Loader;
      readonly aliasOrVersion: string | number;
      /** Any `models:/` or `runs:/` URI, instead of the registry name and `aliasOrVersion`. */
      readonly modelUri?: string | undefined;
      readonly idColumns?: readonly string[] | undefined;
      readonly passthrough?: readonly string[] | undefined;
      readonly modelVersionColumn?: string | undefined;
      readonly validation?: ValidationPolicy | undefined;
      readonly batchSize: number;
    },
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
    return new InferenceJob(
      servicesFromConfig(config, services),
      {
        inputs: createReader(config.inputs),
        outputs: createWriter(config.outputs),
        loader: createLoader(config.loader),
        aliasOrVersion: config.alias_or_version,
        modelUri: config.model_uri,
        idColumns: config.id_columns,
        passthrough: config.passthrough,
        modelVersionColumn: config.model_version_column,
        validation: {
          constraints: config.validation.constraints,
          cast: config.validation.cast,
          onInvalid: config.validation.on_invalid,
          quarantine: config.validation.quarantine && createWriter(config.validation.quarantine),
          maxInvalidRows: config.validation.max_invalid_rows,
          maxInvalidFraction: config.validation.max_invalid_fraction,
          report: config.validation.report,
        },
        batchSize: config.batch_size,
      },
      { report: config.report, configHash: configHash(config), mlflowRun: config.mlflow_run },
    );
  }

  /** @inheritdoc */
  async run(): Promise<InferenceLocals> {
    const { inputs, outputs, batchSize } = this.options;
    const { alerts } = this.services;
    const db = await Database.create();
    const stop = this.interruptOnAbort(db);
    try {
      const { idColumns, uri, version, versionUri, model, checked, columns } = await this.checkedModel(db);
      try {
        // Invalid rows (drop, quarantine) are filtered in SQL: the stream and the ids see the same rows.
        const source = checked.source;
        this.logger.info(`[Inference] Predict outputs: ${model.outputs.map((o) => o.name).join(", ")}`);
        const total = checked.report.rows.total - checked.rejected;
        const predictions = await this.step("predict", () =>
          predictTable(db, source, model, { batchSize, logger: this.logger, total, signal: this.signal }),
        );
        const counts = this.reconcile(checked, predictions.rowCount);
        this.logger.info(`[Inference] Write outputs: ${outputs.path} (${counts.text})`);
        const passed = [...idColumns, ...(this.options.passthrough ?? [])];
        const modelColumn = this.options.modelVersionColumn;
        const query = outputsQuery(
          source,
          passed,
          predictions.sqlName,
          modelColumn === undefined ? undefined : { name: modelColumn, value: versionUri },
        );
        const { rejected, quarantine } = checked;
        const quarantineWriter = this.options.validation?.quarantine;
        this.facts.rows = { read: counts.read, rejected };
        const { written: rows } = await this.step("write", () =>
          writeOutputs(
            db,
            // The reference writes its predictions indexed as the inputs: so do the Parquet outputs.
            { writer: outputs, query, pandasIndex: this.options.idColumns === undefined ? idColumns : [] },
            quarantine === undefined || quarantineWriter === undefined
              ? undefined
              : { writer: quarantineWriter, query: quarantine },
          ),
        );
        this.facts.rows = { read: counts.read, written: rows, rejected };
        this.facts.outputs = outputs.path;
        const shape = [rows, columns.length] as const;

        this.logger.info("[Inference] Notify with alerts");
        await alerts.notify({ ...this.event("finished"), shape });
        return {
          inputs: { path: inputs.path, columns: source.columns.map((c) => c.name) },
          modelUri: uri,
          modelVersion: version,
          model: { uri: model.uri, inputs: model.inputs, outputs: model.outputs },
          outputs: { path: outputs.path, columns, rows },
          shape,
          rows: {
            read: counts.read,
            predicted: predictions.rowCount,
            dropped: this.policy.onInvalid === "drop" ? rejected : 0,
            quarantined: this.policy.onInvalid === "quarantine" ? rejected : 0,
          },
          validation: checked.report,
        };
      } finally {
        await model.close();
      }
    } finally {
      stop();
      db.close();
    }
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
    return this.lifecycle(() => this.check(), { signal: options.signal, notify: false });
  }

  /** What {@link InferenceJob.validate} does while its services are started. */
  private async check(): Promise<InferenceValidation> {
    const db = await Database.create();
    const stop = this.interruptOnAbort(db);
    try {
      const { uri, version, model, checked } = await this.checkedModel(db);
      await model.close();
      return {
        modelUri: uri,
        modelVersion: version,
        report: checked.report,
        rejected: checked.rejected,
        summary: validationSummary(checked, this.policy, uri),
      };
    } finally {
      stop();
      db.close();
    }
  }

  /**
   * What a run and `validate` share: the outputs may be written, the inputs open, the model version
   * resolved and loaded, the inputs validated (against the signature before loading when it names columns,
   * else against what the model reads) and the output columns known. The caller closes the model.
   */
  private async checkedModel(db: Database) {
    const { loader } = this.options;
    await this.step("write", () => this.checkOutputs());
    const { source, idColumns, uri, version, versionUri, mlmodel, signed, table } = await this.prepare(db);
    const early =
      signed === undefined ? undefined : await this.checkInputs(db, source, signed, versionUri, idColumns);
    this.logger.info(`[Inference] Load model: ${versionUri} (${loader.constructor.name})`);
    const model = await this.step("load", () => loader.load(versionUri, mlmodel, table));
    this.logger.info(`[Inference] Model engine: ${model.engine}`);
    try {
      const checked = early ?? (await this.checkInputs(db, source, model.inputs, versionUri, idColumns));
      const passthrough = this.options.passthrough ?? [];
      const columns = outputColumns(idColumns, passthrough, model, this.options.modelVersionColumn);
      return { idColumns, uri, version, versionUri, model, checked, columns };
    } catch (error) {
      await model.close();
      throw error;
    }
  }

  /** The validation settings (default: signature only, fail on any problem). */
  private get policy(): ValidationPolicy {
    return this.options.validation ?? { constraints: {}, onInvalid: "fail" };
  }

  /**
   * Refuses early to run when an output is an input, or exists and its writer would refuse it (mode
   * `error`, or nothing mlbatch may replace).
   */
  private async checkOutputs(): Promise<void> {
    const { inputs, outputs, validation } = this.options;
    await checkOutputsApart(inputs.path, [
      { key: "outputs.path", path: outputs.path, folder: outputs.shape === "folder" },
      {
        key: "validation.quarantine.path",
        path: validation?.quarantine?.path,
        folder: validation?.quarantine?.shape === "folder",
      },
      { key: "validation.report", path: validation?.report },
      { key: "report", path: this.jobOptions.report },
    ]);
    await outputs.check();
    await validation?.quarantine?.check();
  }

  /** Opens the inputs (their schema), resolves the model version and reads its MLmodel. */
  private async prepare(db: Database) {
    const { inputs } = this.options;
    const { mlflow } = this.services;
    this.logger.info(`[Inference] Read inputs: ${inputs.path}`);
    this.facts.inputs = inputs.path;
    let source = await this.step("read", () => inputs.open(db));
    const idColumns = this.idColumns(source);

    const request = modelRequest(mlflow.registryName, this.options.aliasOrVersion, this.options.modelUri);
    const { uri } = request;
    this.logger.info(`[Inference] With model URI: ${uri}`);
    this.facts.model = { name: request.name, alias: request.alias, uri };
    const version = await this.step("load", () => resolveModel(mlflow.registry, request));
    const versionUri = version.uri;
    this.facts.model = { ...this.facts.model, version: version.version ?? undefined };
    this.facts.run = { runId: version.runId, source: version.source };
    this.logger.info(
      { run_id: version.runId, source: version.source },
      `[Inference] Resolved ${resolutionText(request, version)}`,
    );
    const mlmodel = await this.step("load", async () =>
      readMLmodel(await mlflow.registry.modelDirectory(version), versionUri),
    );
    const signed = mlmodel.signature.inputs?.map(
      (c): FeatureSpec => ({ name: c.name, signatureType: c.type, type: FEED_TYPE[c.type] }),
    );
    // What feeds a model whose signature names no columns, when nothing else names them (as in MLflow).
    let table = source.columns.map((c) => c.name).filter((name) => !idColumns.includes(name));
    // A list column is the tensor of such a model: when it is the only column, or the signature is a tensor's.
    const lists = table.filter((name) => source.isNumericList(name));
    const one = mlmodel.signature.inputs === undefined && lists.length === 1 ? lists[0] : undefined;
    if (one !== undefined && (table.length === 1 || mlmodel.signature.tensorInputs !== undefined)) {
      const spread = await this.step("read", () => source.spreadList(one));
      this.logger.info(
        `[Inference] Column "${one}" feeds the model as a tensor of ${spread.columns.length} values`,
      );
      source = spread.source;
      table = spread.columns;
    }
    return { source, idColumns, uri, version, versionUri, mlmodel, signed, table };
  }

  /** Validates the inputs and applies `on_invalid`; logs the rows set aside, if any. */
  private async checkInputs(
    db: Database,
    source: Source,
    features: readonly FeatureSpec[],
    uri: string,
    idColumns: readonly string[],
  ): Promise<CheckedInputs> {
    const policy = this.policy;
    const constrained = Object.keys(policy.constraints).length;
    this.logger.info(
      `[Inference] Validate inputs: ${features.length} columns against the signature of ${uri}` +
        (constrained === 0 ? "" : ` and constraints on ${constrained} columns`),
    );
    const checked = await this.step("validate", () =>
      checkInputsWith(db, source, features, uri, policy, idColumns),
    );
    if (checked.rejected > 0) {
      const { total } = checked.report.rows;
      this.logger.warn(
        { invalid: checked.rejected, total, on_invalid: policy.onInvalid },
        `[Inference] Invalid rows: ${checked.rejected} of ${total} set aside (on_invalid: ${policy.onInvalid}):\n` +
          problemLines(checked.report),
      );
    }
    return checked;
  }

  /**
   * Rows read = predicted + dropped or quarantined, or it is a bug: checked before anything is written.
   */
  private reconcile(checked: CheckedInputs, predicted: number): { read: number; text: string } {
    const read = checked.report.rows.total;
    if (read !== predicted + checked.rejected) {
      throw new MlbatchError(
        "E_INTERNAL",
        `row counts do not reconcile: ${read} read, ${predicted} predicted, ${checked.rejected} set aside`,
      );
    }
    const action = this.policy.onInvalid === "quarantine" ? "quarantined" : "dropped";
    const text =
      checked.rejected === 0
        ? `rows: ${read} read = ${predicted} predicted`
        : `rows: ${read} read = ${predicted} predicted + ${checked.rejected} ${action}`;
    return { read, text };
  }

  private idColumns(source: Source): readonly string[] {
    const ids = this.options.idColumns ?? source.idColumns;
    for (const [names, what, key] of [
      [ids, "id", "id_columns"],
      [this.options.passthrough ?? [], "passthrough", "passthrough"],
    ] as const) {
      const missing = names.filter((id) => source.typeOf(id) === undefined);
      if (missing.length > 0) {
        throw Object.assign(
          new MlbatchError(
            "E_SCHEMA",
            `${what} column(s) ${missing.map((m) => `"${m}"`).join(", ")} not found in inputs "${source.label}" ` +
              `(columns: ${source.columns.map((c) => c.name).join(", ")}). Fix job.${key}.`,
          ),
          { step: "validate" as const },
        );
      }
    }
    return ids;
  }
}
