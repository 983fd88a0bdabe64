/** Drift in a run: profiled beside the predictions, then recorded, warned of, or the run's failure. */
import type { Database } from "../../data/database.js";
import { MlbatchError } from "../../errors.js";
import type { StepContext } from "../context.js";
import type { DriftSettings } from "../settings.js";
import { type DriftOutcome, type DriftRun, driftOf, driftText } from "./step.js";

/**
 * Starts profiling the inputs and comparing them with the reference, when asked (step validate, timed
 * as `drift`), on a connection of its own: it runs while the rows are predicted. The caller awaits it
 * once they are; until then its failure does not go unhandled.
 */
export function startDrift(
  ctx: StepContext,
  db: Database,
  run: DriftRun | undefined,
): Promise<DriftOutcome | undefined> {
  if (run === undefined) return Promise.resolve(undefined);
  const work = async () => {
    const fork = await db.fork();
    try {
      return await driftOf(fork, run);
    } finally {
      fork.close();
    }
  };
  const outcome = ctx.step("validate", work, "drift");
  outcome.catch(() => undefined);
  return outcome;
}

/**
 * Records the profile and the drift in the job's facts; warns of a drift (the finished notification
 * carries it), or fails the run with `on_drift: fail`.
 *
 * @throws MlbatchError `E_DRIFT` naming the drifted columns
 */
export function driftVerdict(
  ctx: StepContext,
  outcome: DriftOutcome | undefined,
  onDrift: DriftSettings["onDrift"],
): void {
  if (outcome === undefined) return;
  const { profile, drift, skipped } = outcome;
  ctx.facts.profile = profile;
  if (skipped !== undefined) ctx.logger.warn(`[Inference] ${skipped}`);
  if (drift === undefined) return;
  ctx.facts.drift = drift;
  const compared = Object.keys(drift.columns).length;
  ctx.logger.info(
    `[Inference] Drift against ${drift.reference}: ${drift.drifted.length} of ${compared} columns drifted`,
  );
  if (drift.drifted.length === 0) return;
  const text = driftText(drift);
  if (onDrift === "fail") {
    const error = new MlbatchError(
      "E_DRIFT",
      `${text}; nothing was written (drift.on_drift: fail). Check the inputs, or set drift.on_drift: warn.`,
    );
    error.step = "validate";
    throw error;
  }
  ctx.logger.warn(`[Inference] ${text}`);
  ctx.facts.warning = text;
}

/** The drift verdict of `on_drift: fail`, given as soon as the profile is done while the rows are predicted. */
export interface EarlyVerdict {
  /** Throws the drift's `E_DRIFT` (or the profile's failure) once known: called before each batch is kept. */
  check(): void;
  /** Settles when the profile is done: rejects with `E_DRIFT` (or the profile's failure). */
  readonly settled: Promise<void>;
}

/**
 * Gives the verdict of `on_drift: fail` as soon as the profile (run beside the predictions) is done, so
 * that a drifted input stops being predicted at the next batch instead of after the last one.
 */
export function failFast(ctx: StepContext, profiling: Promise<DriftOutcome | undefined>): EarlyVerdict {
  let failure: { readonly error: unknown } | undefined;
  const settled = profiling.then((outcome) => driftVerdict(ctx, outcome, "fail"));
  settled.catch((error: unknown) => {
    failure = { error };
  });
  return {
    check: () => {
      if (failure !== undefined) throw failure.error;
    },
    settled,
  };
}
