/** The model's side of a run: the version resolved (or pinned), its MLmodel read, the model loaded. */
import type { Loader } from "../../models/loaders/index.js";
import { type MLmodel, readMLmodel } from "../../models/mlmodel.js";
import type { FeatureSpec, Model } from "../../models/model.js";
import { FEED_TYPE } from "../../models/signature.js";
import type { ModelVersion } from "../../registry/registry.js";
import { type ModelRequest, modelRequest, resolutionText, resolveModel } from "../../registry/request.js";
import type { MlflowService } from "../../services/mlflow.js";
import type { StepContext } from "../context.js";
import type { InferenceSettings } from "../settings.js";

/** A model version ready to load: its MLmodel, and the columns its signature names (if it names some). */
export interface ResolvedModel {
  readonly version: ModelVersion;
  readonly mlmodel: MLmodel;
  /** The signature's columns, as the model is fed them; undefined when the signature names none. */
  readonly signed: readonly FeatureSpec[] | undefined;
}

/** What the job asks for: `model_uri`, else the registry name and `alias_or_version`. */
export function requestOf(
  mlflow: MlflowService,
  settings: Pick<InferenceSettings, "aliasOrVersion" | "modelUri">,
): ModelRequest {
  return modelRequest(mlflow.registryName, settings.aliasOrVersion, settings.modelUri);
}

/**
 * Resolves the request to the version it names now (step load), recorded in the job's facts.
 *
 * @throws MlbatchError `E_MODEL_NOT_FOUND`, or the registry's error
 */
export async function resolveVersion(
  ctx: StepContext,
  mlflow: MlflowService,
  request: ModelRequest,
): Promise<ModelVersion> {
  ctx.facts.model = { name: request.name, alias: request.alias, uri: request.uri };
  const version = await ctx.step("load", () => resolveModel(mlflow.registry, request));
  ctx.facts.model = { ...ctx.facts.model, version: version.version ?? undefined };
  ctx.facts.run = { runId: version.runId, source: version.source };
  return version;
}

/** Resolves the request with the job's log lines: what is asked, what it resolved to. */
export async function resolveLogged(
  ctx: StepContext,
  mlflow: MlflowService,
  request: ModelRequest,
): Promise<ModelVersion> {
  ctx.logger.info(`[Inference] With model URI: ${request.uri}`);
  const version = await resolveVersion(ctx, mlflow, request);
  ctx.logger.info(
    { run_id: version.runId, source: version.source },
    `[Inference] Resolved ${resolutionText(request, version)}`,
  );
  return version;
}

/**
 * Reads a version's MLmodel from the registry (step load).
 *
 * @throws MlbatchError `E_MODEL_LOAD` when the MLmodel is missing or malformed; the registry's error
 */
export async function readModel(
  ctx: StepContext,
  mlflow: MlflowService,
  version: ModelVersion,
): Promise<ResolvedModel> {
  const mlmodel = await ctx.step("load", async () =>
    readMLmodel(await mlflow.registry.modelDirectory(version), version.uri),
  );
  const signed = mlmodel.signature.inputs?.map(
    (c): FeatureSpec => ({ name: c.name, signatureType: c.type, type: FEED_TYPE[c.type] }),
  );
  return { version, mlmodel, signed };
}

/**
 * Loads the model (step load), with the job's log lines: what is loaded, by which engine.
 *
 * @param table - the input's columns, which feed a model whose signature names none
 * @param note - why this version (a sharded run's plan), for the log
 * @throws MlbatchError `E_MODEL_LOAD`; `E_CONFIG` or `E_SCHEMA` from the loader
 */
export async function loadModel(
  ctx: StepContext,
  loader: Loader,
  resolved: ResolvedModel,
  table: readonly string[],
  note = loader.constructor.name,
): Promise<Model> {
  const { uri } = resolved.version;
  ctx.logger.info(`[Inference] Load model: ${uri} (${note})`);
  const model = await ctx.step("load", () => loader.load(uri, resolved.mlmodel, table));
  ctx.logger.info(`[Inference] Model engine: ${model.engine}`);
  return model;
}
