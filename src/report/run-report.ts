/**
 * The JSON run report (`job.report`): what ran, on what, with which model, how it went. Built here from
 * plain facts, so that the jobs that write it and the tracking that logs it share one vocabulary.
 */
import type { ErrorCode, JobStep } from "../errors.js";
import type {
  ChallengerReport,
  DataProfile,
  Distribution,
  DriftReport,
  ValidationSummary,
} from "./sections.js";

/** The JSON run summary a job writes to `job.report`: what ran, on what, with which model, how it went. */
export interface RunReport {
  readonly mlbatch_version: string;
  readonly job: string;
  readonly status: "success" | "failure";
  readonly started_at: string;
  readonly finished_at: string;
  readonly duration_s: number;
  /** SHA-256 of the job's validated config (canonical JSON): equal hashes, equal configs. */
  readonly config_hash: string | null;
  readonly model: {
    readonly uri: string;
    readonly name: string;
    readonly alias: string | null;
    readonly version: number | null;
    readonly run_id: string | null;
    readonly source: string | null;
  } | null;
  readonly inputs: { readonly path: string | null; readonly rows: number | null };
  readonly outputs: { readonly path: string | null; readonly rows: number | null };
  readonly rows: {
    readonly read: number | null;
    readonly written: number | null;
    readonly rejected: number | null;
  };
  /** Seconds per step, and `total`. */
  readonly durations: Readonly<Record<string, number>>;
  readonly peak_memory_mb: number;
  readonly warnings: readonly string[];
  // The sections below are always written by runReport; optional for reports of older versions.
  /** What validation found. */
  readonly validation?: ValidationSummary | null;
  /** The distribution of each output column (with `report_html`, `drift` or `challenger`). */
  readonly predictions?: Readonly<Record<string, Distribution>> | null;
  /** The inputs' profile (with `job.drift`). */
  readonly profile?: DataProfile | null;
  /** The inputs' drift from the reference (with `job.drift`): `drift.columns.<name>.drifted`. */
  readonly drift?: DriftReport | null;
  /** Champion against Challenger (with `job.challenger`). */
  readonly challenger?: ChallengerReport | null;
  readonly error: {
    readonly step: JobStep | null;
    readonly code: ErrorCode;
    readonly message: string;
  } | null;
}

/** What a job knows at its end, from which {@link runReport} builds the report. */
export interface RunFacts {
  readonly version: string;
  readonly job: string;
  readonly startedAt: Date;
  readonly finishedAt: Date;
  /** Seconds per step, with `total`. */
  readonly durations: Readonly<Record<string, number>>;
  readonly configHash?: string | undefined;
  readonly model?:
    | {
        readonly uri: string;
        readonly name: string;
        readonly alias?: string | undefined;
        readonly version?: number | undefined;
        readonly runId?: string | null | undefined;
        readonly source?: string | undefined;
      }
    | undefined;
  readonly inputs?: string | undefined;
  readonly outputs?: string | undefined;
  readonly rows?:
    | { readonly read?: number; readonly written?: number; readonly rejected?: number }
    | undefined;
  readonly peakMemoryMb: number;
  readonly warnings: readonly string[];
  readonly validation?: ValidationSummary | undefined;
  readonly predictions?: Readonly<Record<string, Distribution>> | undefined;
  readonly profile?: DataProfile | undefined;
  readonly drift?: DriftReport | undefined;
  readonly challenger?: ChallengerReport | undefined;
  /** The failure; none for a success. */
  readonly error?:
    | { readonly step?: JobStep | undefined; readonly code: ErrorCode; readonly message: string }
    | undefined;
}

/**
 * The report of a run: every fact the job did not learn is `null`, so that the report's shape never
 * depends on where a run stopped.
 *
 * @example
 * ```ts
 * const report = runReport({ version: "0.1.0", job: "Inference Job", startedAt, finishedAt: new Date(),
 *   durations: { total: 1.2 }, peakMemoryMb: 260, warnings: [] });
 * report.status; // "success"
 * ```
 */
export function runReport(facts: RunFacts): RunReport {
  const { model, rows, error } = facts;
  return {
    mlbatch_version: facts.version,
    job: facts.job,
    status: error === undefined ? "success" : "failure",
    started_at: facts.startedAt.toISOString(),
    finished_at: facts.finishedAt.toISOString(),
    duration_s: facts.durations.total ?? 0,
    config_hash: facts.configHash ?? null,
    model:
      model === undefined
        ? null
        : {
            uri: model.uri,
            name: model.name,
            alias: model.alias ?? null,
            version: model.version ?? null,
            run_id: model.runId ?? null,
            source: model.source ?? null,
          },
    inputs: { path: facts.inputs ?? null, rows: rows?.read ?? null },
    outputs: { path: facts.outputs ?? null, rows: rows?.written ?? null },
    rows: { read: rows?.read ?? null, written: rows?.written ?? null, rejected: rows?.rejected ?? null },
    durations: facts.durations,
    peak_memory_mb: facts.peakMemoryMb,
    warnings: [...facts.warnings],
    validation: facts.validation ?? null,
    predictions: facts.predictions ?? null,
    profile: facts.profile ?? null,
    drift: facts.drift ?? null,
    challenger: facts.challenger ?? null,
    error:
      error === undefined ? null : { step: error.step ?? null, code: error.code, message: error.message },
  };
}
