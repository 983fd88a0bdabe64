/**
 * Validation as a job step: the inputs checked against the model's signature and the constraints, the
 * policy applied; when the signature names the columns, while the model loads.
 */
import type { Database } from "../../data/database.js";
import { problemLines, type ValidationReport } from "../../data/validation-report.js";
import type { Loader } from "../../models/loaders/index.js";
import type { FeatureSpec, Model } from "../../models/model.js";
import type { StepContext } from "../context.js";
import type { ValidationPolicy } from "../validation/config.js";
import { type CheckedInputs, checkWithPolicy } from "../validation/policy.js";
import { validationFacts } from "../validation/summary.js";
import type { OpenedInputs } from "./inputs.js";
import { loadModel, type ResolvedModel } from "./model.js";

/** What validation checks: the inputs, against the columns the model is fed, by the policy. */
export interface Validation {
  readonly inputs: OpenedInputs;
  readonly features: readonly FeatureSpec[];
  /** The model's URI, for messages. */
  readonly uri: string;
  readonly policy: ValidationPolicy;
}

/**
 * Validates the inputs (step validate) and applies the policy; warns of the rows set aside, if any.
 *
 * @throws MlbatchError `E_SCHEMA` with every problem
 */
export async function validateStep(ctx: StepContext, db: Database, v: Validation): Promise<CheckedInputs> {
  const { inputs, policy } = v;
  const checked = await ctx.step("validate", () =>
    checkWithPolicy(db, inputs.source, v.features, v.uri, policy, inputs.idColumns),
  );
  if (checked.rejected > 0) {
    const { total } = checked.report.rows;
    ctx.logger.warn(
      { invalid: checked.rejected, total, on_invalid: policy.onInvalid },
      `[Inference] Invalid rows: ${checked.rejected} of ${total} set aside (on_invalid: ${policy.onInvalid}):\n` +
        problemLines(checked.report),
    );
  }
  return checked;
}

/**
 * {@link validateStep} with the job's log line (how many columns, against what), its figures recorded
 * for the run report (a single run's: a shard's units are validated one by one).
 */
async function validateLogged(ctx: StepContext, db: Database, v: Validation): Promise<CheckedInputs> {
  const constrained = Object.keys(v.policy.constraints).length;
  ctx.logger.info(
    `[Inference] Validate inputs: ${v.features.length} columns against the signature of ${v.uri}` +
      (constrained === 0 ? "" : ` and constraints on ${constrained} columns`),
  );
  const checked = await validateStep(ctx, db, v).catch((error: unknown) => {
    // The failure's report (an E_SCHEMA carries it) goes into the run report too.
    const report = (error as { report?: ValidationReport } | null)?.report;
    if (report !== undefined) ctx.facts.validation = validationFacts(report);
    throw error;
  });
  ctx.facts.validation = validationFacts(checked.report);
  return checked;
}

/** What {@link checkAndLoad} needs. */
export interface CheckAndLoad {
  readonly inputs: OpenedInputs;
  readonly resolved: ResolvedModel;
  /** The columns that feed a model whose signature names none. */
  readonly table: readonly string[];
  readonly loader: Loader;
  readonly policy: ValidationPolicy;
}

/**
 * Validates the inputs and loads the model. When the signature names the columns, validation (one
 * DuckDB pass over the inputs, on DuckDB's threads) runs while the model loads (JavaScript and the
 * engine's threads): neither waits for the other. Otherwise the model is loaded first and the inputs are
 * validated against what it reads. A validation failure is reported first, as if validation had run
 * alone, and the model is then closed.
 *
 * @returns the loaded model (the caller closes it) and the checked inputs
 * @throws MlbatchError `E_SCHEMA` from validation; the loader's errors
 */
export async function checkAndLoad(
  ctx: StepContext,
  db: Database,
  p: CheckAndLoad,
): Promise<{ model: Model; checked: CheckedInputs }> {
  const { inputs, resolved, policy } = p;
  const uri = resolved.version.uri;
  if (resolved.signed === undefined) {
    const model = await loadModel(ctx, p.loader, resolved, p.table);
    try {
      return {
        model,
        checked: await validateLogged(ctx, db, { inputs, features: model.inputs, uri, policy }),
      };
    } catch (error) {
      await model.close();
      throw error;
    }
  }
  const checking = validateLogged(ctx, db, { inputs, features: resolved.signed, uri, policy });
  const loading = loadModel(ctx, p.loader, resolved, p.table);
  const [checked, model] = await Promise.allSettled([checking, loading]);
  if (checked.status === "rejected") {
    if (model.status === "fulfilled") await model.value.close();
    throw checked.reason;
  }
  if (model.status === "rejected") throw model.reason;
  return { model: model.value, checked: checked.value };
}
