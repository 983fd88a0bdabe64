/**
 * `mlbatch profile`: the profile of the data a model was trained on, over the model's input columns,
 * written as a profile file that `drift.reference` then names, and/or logged to the model version's run
 * (the artifact {@link PROFILE_ARTIFACT}), which `drift.reference: model` reads.
 */
import type { Database } from "../../data/database.js";
import { writeTextAtomically } from "../../data/writers/atomic.js";
import { MlbatchError, messageOf } from "../../errors.js";
import type { ModelVersion, Registry } from "../../registry/index.js";
import type { DataProfile } from "../../report/sections.js";
import type { MlflowService } from "../../services/mlflow.js";
import type { StepContext } from "../context.js";
import type { InferenceSettings } from "../settings.js";
import { readModel, requestOf, resolveLogged } from "../steps/model.js";
import { type LoggedProfile, profileDataset, profileOf } from "./step.js";

/** Where `mlbatch profile --log` puts the profile among the artifacts of the model version's run. */
export const PROFILE_ARTIFACT = "mlbatch/training.profile.json";

/** What `mlbatch profile` is asked: a file to write, the version's run to log to, or both. */
export interface ProfileOptions {
  /** The training inputs (Parquet, CSV or JSON Lines). */
  readonly data: string;
  /** Where to write the profile: a `*.profile.json` file. */
  readonly output?: string | undefined;
  /** Log the profile to the model version's run ({@link PROFILE_ARTIFACT}). */
  readonly log?: boolean | undefined;
}

/** What `mlbatch profile` made. */
export interface TrainingProfile {
  readonly profile: DataProfile;
  /** The version whose inputs were profiled (`models:/bikes/2`). */
  readonly modelUri: string;
  /** The file written, if asked. */
  readonly output: string | undefined;
  /** The artifact URI logged to, if asked. */
  readonly logged: string | undefined;
}

/**
 * Resolves the job's model version, profiles the data over its signature's input columns, and writes
 * the profile (atomically) and/or logs it to the version's run.
 *
 * @throws MlbatchError `E_USAGE` for neither an output nor `log`, or an output not named
 * `*.profile.json`; `E_SCHEMA` when the data lacks an input column or the signature names none;
 * `E_CONFIG` for `log` when the version has no run; the registry's, reading's, writing's and tracking's
 * errors
 */
export async function trainingProfile(
  ctx: StepContext,
  db: Database,
  mlflow: MlflowService,
  settings: InferenceSettings,
  options: ProfileOptions,
): Promise<TrainingProfile> {
  if (options.output === undefined && options.log !== true) {
    throw new MlbatchError(
      "E_USAGE",
      "mlbatch profile needs --output <file.profile.json> (a file drift.reference names), --log (logged to " +
        "the model version's run, for drift.reference: model), or both.",
    );
  }
  if (options.output !== undefined && !options.output.endsWith(".profile.json")) {
    throw new MlbatchError(
      "E_USAGE",
      `--output "${options.output}" must end in .profile.json: drift.reference tells a profile file from a dataset so.`,
    );
  }
  const request = requestOf(mlflow, settings);
  const resolved = await readModel(ctx, mlflow, await resolveLogged(ctx, mlflow, request));
  if (resolved.signed === undefined) {
    throw new MlbatchError(
      "E_SCHEMA",
      `model ${resolved.version.uri} has no column signature: mlbatch profile cannot tell its input columns. ` +
        "Log the model with a signature (mlflow.models.infer_signature).",
    );
  }
  const { runId } = resolved.version;
  if (options.log === true && runId === null) {
    throw new MlbatchError(
      "E_CONFIG",
      `model ${resolved.version.uri} was logged without a run: mlbatch profile --log has no run to log the ` +
        "profile to. Write it to a file (--output) and name that file in drift.reference.",
    );
  }
  const names = resolved.signed.map((f) => f.name);
  ctx.logger.info(
    `[Profile] Profile ${options.data}: ${names.length} input columns of ${resolved.version.uri}`,
  );
  const profile = await ctx.step("read", () =>
    profileDataset(db, options.data, names, { partial: false, key: "--data" }),
  );
  const text = `${JSON.stringify(profile, null, 2)}\n`;
  const { output } = options;
  if (output !== undefined) {
    await ctx.step("write", () => writeTextAtomically(output, text, "the profile"));
  }
  let logged: string | undefined;
  if (options.log === true && runId !== null) {
    logged = await ctx.step("write", () =>
      mlflow.logArtifact(runId, { path: PROFILE_ARTIFACT, content: text }),
    );
  }
  return { profile, modelUri: resolved.version.uri, output, logged };
}

/**
 * The profile `mlbatch profile --log` logged to a model version's run ({@link PROFILE_ARTIFACT}), for
 * `drift.reference: model`.
 *
 * @returns the profile, and the reference's name for the report (`model models:/bikes/2`)
 * @throws MlbatchError `E_READ` when the version has no run, its run holds no profile, or the file is no
 * profile (each naming what to run); the registry's errors reading the run's artifacts
 */
export async function loggedProfile(registry: Registry, version: ModelVersion): Promise<LoggedProfile> {
  const { runId, uri } = version;
  const fix =
    "Log one from the training data: mlbatch profile <config> --data <training data> --log; or set " +
    "job.drift.reference to a dataset or a profile file.";
  if (runId === null) {
    throw new MlbatchError(
      "E_READ",
      `drift.reference is model, but model ${uri} was logged without a run to hold its profile. ${fix}`,
    );
  }
  const content = await registry.runArtifact(runId, PROFILE_ARTIFACT);
  if (content === undefined) {
    throw new MlbatchError(
      "E_READ",
      `drift.reference is model, but no profile is logged with model ${uri}: its run ${runId} has no ` +
        `artifact ${PROFILE_ARTIFACT}. ${fix}`,
    );
  }
  let value: unknown;
  try {
    value = JSON.parse(content.toString("utf8"));
  } catch (error) {
    throw new MlbatchError(
      "E_READ",
      `the profile logged with model ${uri} (run ${runId}, ${PROFILE_ARTIFACT}) is not JSON: ` +
        `${messageOf(error)}. ${fix}`,
      { cause: error },
    );
  }
  return { profile: profileOf(value, `${PROFILE_ARTIFACT} of run ${runId}`), name: `model ${uri}` };
}
