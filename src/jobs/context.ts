import { type JobStep, MlbatchError } from "../errors.js";
import type {
  ChallengerReport,
  DataProfile,
  Distribution,
  DriftReport,
  ValidationSummary,
} from "../report/sections.js";
import type { JobEvent } from "../services/job-event.js";
import type { Logger } from "../services/logger.js";

/** What a job learned so far (model, rows, outputs, step durations), for its notifications and report. */
export interface JobFacts {
  model?: JobEvent["model"];
  /** The resolved version's run and source, for the report. */
  run?: { readonly runId: string | null; readonly source: string };
  inputs?: string;
  rows?: JobEvent["rows"];
  outputs?: string;
  validation?: ValidationSummary;
  predictions?: Record<string, Distribution>;
  /** The inputs' profile, their drift, and Champion against Challenger, when asked. */
  profile?: DataProfile;
  drift?: DriftReport;
  challenger?: ChallengerReport;
  /** True once a run report's path was refused (it is an input): the reports are then not written. */
  reportsRefused?: boolean;
  /** What a finished run's notification warns of (drift). */
  warning?: string;
  durations: Record<string, number>;
}

/**
 * What every step of a job is given: the logger, the job's stop signal, the facts to record what it
 * learns, and `step`, which times a piece of work and tags its failure with the step's name.
 */
export interface StepContext {
  readonly logger: Logger;
  /** Aborted when the job is to stop (SIGTERM, SIGINT). */
  readonly signal: AbortSignal | undefined;
  readonly facts: JobFacts;
  /**
   * Runs `work` as (part of) `step`: its time is added under `timing` (the step's name by default; `null`:
   * not timed), and a failure without a step gets this one.
   */
  step<T>(step: JobStep, work: () => Promise<T>, timing?: string | null): Promise<T>;
}

/** What every job may be asked besides its work. */
export interface JobOptions {
  /** Where to write the JSON run report (on success and on failure). */
  readonly report?: string | undefined;
  /** Where to write the run report as an HTML page (on success and on failure). */
  readonly reportHtml?: string | undefined;
  /** The hash of the job's config, recorded in the report. */
  readonly configHash?: string | undefined;
  /** Also log the run (the report's facts, and the report as an artifact) to MLflow tracking. */
  readonly mlflowRun?: boolean | undefined;
}

/**
 * An error tagged with the step it belongs to unless it has one, for a failure found outside
 * {@link StepContext.step}; anything else than an MlbatchError is left for the job to report.
 */
export function atStep<E>(step: JobStep, error: E): E {
  if (error instanceof MlbatchError) error.step ??= step;
  return error;
}
