/** The answers of the MLflow REST API's registry endpoints (the client and its error body: mlflow/). */
import * as z from "zod";

const VersionNumber = z.union([z.string(), z.number()]).transform(Number).pipe(z.int().positive());

/** A model version as the REST API describes it. */
export const ModelVersionJson = z.looseObject({
  name: z.string(),
  version: VersionNumber,
  source: z.string().optional(),
  run_id: z.string().nullable().optional(),
  status: z.string().optional(),
  current_stage: z.string().optional(),
  aliases: z.array(z.string()).optional(),
});
export type ModelVersionJson = z.infer<typeof ModelVersionJson>;

/** `model_version` of `registered-models/alias` and `model-versions/get`. */
export const ModelVersionAnswer = z.looseObject({ model_version: ModelVersionJson });

/** `registered-models/get-latest-versions`: the newest version of each stage asked for. */
export const LatestVersionsAnswer = z.looseObject({ model_versions: z.array(ModelVersionJson).optional() });

/** `registered-models/get`: the model, its aliases and the newest version of each stage. */
export const RegisteredModelAnswer = z.looseObject({
  registered_model: z.looseObject({
    name: z.string(),
    aliases: z.array(z.looseObject({ alias: z.string(), version: VersionNumber })).optional(),
    latest_versions: z
      .array(z.looseObject({ version: VersionNumber, current_stage: z.string().optional() }))
      .optional(),
  }),
});

/** A logged model (MLflow 3) as `logged-models/<id>` and `logged-models/search` describe it. */
const LoggedModelJson = z.looseObject({
  info: z.looseObject({
    model_id: z.string(),
    name: z.string().optional(),
    artifact_uri: z.string(),
    source_run_id: z.string().nullable().optional(),
    status: z.string().optional(),
  }),
});

/** `logged-models/<id>`. */
export const LoggedModelAnswer = z.looseObject({ model: LoggedModelJson });

/** `logged-models/search`. */
export const LoggedModelsAnswer = z.looseObject({
  models: z.array(LoggedModelJson).optional(),
  next_page_token: z.string().optional(),
});

/** `runs/get`: where a run's artifacts are. */
export const RunAnswer = z.looseObject({
  run: z.looseObject({
    info: z.looseObject({ artifact_uri: z.string(), experiment_id: z.string().optional() }),
  }),
});

/** `model-versions/get-download-uri`. */
export const DownloadUriAnswer = z.looseObject({ artifact_uri: z.string() });

/** `registered-models/search`. */
export const RegisteredModelsAnswer = z.looseObject({
  registered_models: z.array(z.looseObject({ name: z.string() })).optional(),
});

/** `model-versions/search`. */
export const ModelVersionsAnswer = z.looseObject({
  model_versions: z.array(z.looseObject({ version: VersionNumber })).optional(),
  next_page_token: z.string().optional(),
});
