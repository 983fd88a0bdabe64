import * as z from "zod";
import { Database } from "../data/database.js";
import { PredictionTable } from "../data/predictions.js";
import { createReader, type Reader, ReaderKind } from "../data/readers/index.js";
import { checkInputs } from "../data/schema.js";
import type { Source } from "../data/source.js";
import { identifierList } from "../data/sql.js";
import { createWriter, type Writer, WriterKind } from "../data/writers/index.js";
import { MlbatchError } from "../errors.js";
import { createLoader, type Loader, LoaderKind } from "../models/loaders/index.js";
import { readMLmodel } from "../models/mlmodel.js";
import type { FeatureSpec, Model } from "../models/model.js";
import { FEED_TYPE } from "../models/signature.js";
import { modelReference, modelUri } from "../registry/model-uri.js";
import type { ModelVersion } from "../registry/registry.js";
import { AlertsService, AlertsServiceConfig } from "../services/alerts.js";
import { LoggerService, LoggerServiceConfig } from "../services/logger.js";
import { MlflowService, MlflowServiceConfig } from "../services/mlflow.js";
import { Job, type JobServices } from "./base.js";

/** Config of {@link InferenceJob}: the reference's fields, plus `id_columns` and `batch_size`. */
export const InferenceJobConfig = z
  .strictObject({
    KIND: z.literal("InferenceJob"),
    logger_service: LoggerServiceConfig.prefault({}),
    alerts_service: AlertsServiceConfig.prefault({}),
    mlflow_service: MlflowServiceConfig.prefault({}),
    inputs: ReaderKind.describe("Reader of the input data."),
    outputs: WriterKind.describe("Writer of the predictions."),
    alias_or_version: z
      .union([z.string().min(1), z.int().positive()])
      .default("Champion")
      .describe("Registry alias (a name) or version (a number) of the model to load."),
    loader: LoaderKind.prefault({ KIND: "CustomLoader" }).describe(
      "How the model is loaded and its outputs named.",
    ),
    id_columns: z
      .array(z.string().min(1))
      .optional()
      .describe(
        "Input columns copied next to the predictions. Default: the input's pandas index columns, if any.",
      ),
    batch_size: z.int().positive().default(65_536).describe("Rows per prediction batch."),
  })
  .describe("Batch inference: read, check, load the registered model, predict, write, notify.");
export type InferenceJobConfig = z.infer<typeof InferenceJobConfig>;

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
      readonly idColumns?: readonly string[] | undefined;
      readonly batchSize: number;
    },
  ) {
    super(services);
  }

  /**
   * Builds the job and its services from a validated config.
   *
   * @param config - the job's config
   * @param services - services to use instead of those the config describes (e.g. with captured output)
   */
  static fromConfig(config: InferenceJobConfig, services: Partial<JobServices> = {}): InferenceJob {
    const logger = services.logger ?? new LoggerService(config.logger_service);
    return new InferenceJob(
      {
        logger,
        alerts: services.alerts ?? new AlertsService(config.alerts_service),
        mlflow: services.mlflow ?? new MlflowService(config.mlflow_service, () => logger.logger),
      },
      {
        inputs: createReader(config.inputs),
        outputs: createWriter(config.outputs),
        loader: createLoader(config.loader),
        aliasOrVersion: config.alias_or_version,
        idColumns: config.id_columns,
        batchSize: config.batch_size,
      },
    );
  }

  /** @inheritdoc */
  async run(): Promise<InferenceLocals> {
    const { inputs, outputs, loader, batchSize } = this.options;
    const { mlflow, alerts } = this.services;
    const db = await Database.create();
    try {
      this.logger.info(`[Inference] Read inputs: ${inputs.path}`);
      const source = await this.step("read", () => inputs.open(db));
      const idColumns = this.idColumns(source);

      const ref = modelReference(mlflow.registryName, this.options.aliasOrVersion);
      const uri = modelUri(ref);
      this.logger.info(`[Inference] With model URI: ${uri}`);
      this.facts.model = { name: ref.name, alias: ref.alias, uri };
      const version = await this.step("load", () => mlflow.registry.getModelVersion(ref));
      const versionUri = `models:/${version.name}/${version.version}`;
      this.facts.model = { ...this.facts.model, version: version.version };
      this.logger.info(
        { run_id: version.runId, source: version.source },
        `[Inference] Resolved ${uri} to version ${version.version}`,
      );
      const mlmodel = await this.step("load", async () =>
        readMLmodel(await mlflow.registry.modelDirectory(version), versionUri),
      );

      const signed = mlmodel.signature.inputs?.map(
        (c): FeatureSpec => ({ name: c.name, signatureType: c.type, type: FEED_TYPE[c.type] }),
      );
      if (signed !== undefined) await this.validate(db, source, signed, versionUri);
      this.logger.info(`[Inference] Load model: ${versionUri} (${loader.constructor.name})`);
      const model = await this.step("load", () => loader.load(versionUri, mlmodel));
      try {
        if (signed === undefined) await this.validate(db, source, model.inputs, versionUri);
        this.checkNames(idColumns, model);

        this.logger.info(`[Inference] Predict outputs: ${model.outputs.map((o) => o.name).join(", ")}`);
        const predictions = await this.step("predict", async () => {
          const table = await PredictionTable.create(db, "mlbatch_predictions", model.outputs);
          try {
            for await (const batch of source.batches(model.inputs, batchSize))
              table.append(await model.predict(batch));
          } finally {
            table.close();
          }
          return table;
        });

        this.logger.info(`[Inference] Write outputs: ${outputs.path}`);
        const query =
          idColumns.length === 0
            ? `(SELECT * FROM ${predictions.sqlName})`
            : `(SELECT * FROM ${source.project(idColumns)} POSITIONAL JOIN ${predictions.sqlName})`;
        this.facts.rows = { read: predictions.rowCount };
        const rows = await this.step("write", () => outputs.write(db, query));
        this.facts.rows = { read: predictions.rowCount, written: rows, rejected: 0 };
        this.facts.outputs = outputs.path;
        const columns = [...idColumns, ...model.outputs.map((o) => o.name)];
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
        };
      } finally {
        await model.close();
      }
    } finally {
      db.close();
    }
  }

  private async validate(
    db: Database,
    source: Source,
    features: readonly FeatureSpec[],
    uri: string,
  ): Promise<void> {
    this.logger.info(
      `[Inference] Validate inputs: ${features.length} columns against the signature of ${uri}`,
    );
    await this.step("validate", () => checkInputs(db, source, features, uri));
  }

  private idColumns(source: Source): readonly string[] {
    const ids = this.options.idColumns ?? source.idColumns;
    const missing = ids.filter((id) => source.typeOf(id) === undefined);
    if (missing.length > 0) {
      throw Object.assign(
        new MlbatchError(
          "E_SCHEMA",
          `id column(s) ${missing.map((m) => `"${m}"`).join(", ")} not found in inputs "${source.label}" ` +
            `(columns: ${source.columns.map((c) => c.name).join(", ")}). Fix job.id_columns.`,
        ),
        { step: "validate" as const },
      );
    }
    return ids;
  }

  private checkNames(idColumns: readonly string[], model: Model): void {
    const clash = model.outputs.filter((o) => idColumns.includes(o.name)).map((o) => o.name);
    if (clash.length > 0) {
      throw Object.assign(
        new MlbatchError(
          "E_SCHEMA",
          `output column(s) ${identifierList(clash)} of model ${model.uri} have the same name as id column(s); ` +
            "set job.id_columns to other columns.",
        ),
        { step: "validate" as const },
      );
    }
  }
}
