/**
 * `mlbatch profile`: the profile of the data a model was trained on, over the model's input columns,
 * written as a profile file that `drift.reference` then names.
 */
import type { Database } from "../../data/database.js";
import { writeTextAtomically } from "../../data/writers/atomic.js";
import { MlbatchError } from "../../errors.js";
import type { DataProfile } from "../../report/sections.js";
import type { MlflowService } from "../../services/mlflow.js";
import type { StepContext } from "../context.js";
import type { InferenceSettings } from "../settings.js";
import { readModel, requestOf, resolveLogged } from "../steps/model.js";
import { profileDataset } from "./step.js";

/** What `mlbatch profile` is asked. */
export interface ProfileOptions {
  /** The training inputs (Parquet, CSV or JSON Lines). */
  readonly data: string;
  /** Where to write the profile: a `*.profile.json` file. */
  readonly output: string;
}

/** What `mlbatch profile` made. */
export interface TrainingProfile {
  readonly profile: DataProfile;
  /** The version whose inputs were profiled (`models:/bikes/2`). */
  readonly modelUri: string;
  readonly output: string;
}

/**
 * Resolves the job's model version, profiles the data over its signature's input columns, and writes
 * the profile (atomically).
 *
 * @throws MlbatchError `E_USAGE` for an output not named `*.profile.json`; `E_SCHEMA` when the data lacks
 * an input column or the signature names none; the registry's, reading's and writing's errors
 */
export async function trainingProfile(
  ctx: StepContext,
  db: Database,
  mlflow: MlflowService,
  settings: InferenceSettings,
  options: ProfileOptions,
): Promise<TrainingProfile> {
  if (!options.output.endsWith(".profile.json")) {
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
  const names = resolved.signed.map((f) => f.name);
  ctx.logger.info(
    `[Profile] Profile ${options.data}: ${names.length} input columns of ${resolved.version.uri}`,
  );
  const profile = await ctx.step("read", () =>
    profileDataset(db, options.data, names, { partial: false, key: "--data" }),
  );
  await ctx.step("write", () =>
    writeTextAtomically(options.output, `${JSON.stringify(profile, null, 2)}\n`, "the profile"),
  );
  return { profile, modelUri: resolved.version.uri, output: options.output };
}
