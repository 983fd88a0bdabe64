import { createHash } from "node:crypto";
import { writeFile } from "node:fs/promises";
import { writeAtomically } from "../data/writers/atomic.js";
import type { ErrorCode, JobStep } from "../errors.js";

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
  readonly error: {
    readonly step: JobStep | null;
    readonly code: ErrorCode;
    readonly message: string;
  } | null;
}

/**
 * SHA-256 of a config as canonical JSON (keys sorted at every level), so that the same settings give the
 * same hash whatever the order of the YAML keys.
 *
 * @example
 * ```ts
 * configHash({ b: 1, a: { d: 2, c: 3 } }) === configHash({ a: { c: 3, d: 2 }, b: 1 }); // true
 * ```
 */
export function configHash(config: unknown): string {
  return createHash("sha256").update(canonical(config)).digest("hex");
}

function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(",")}]`;
  if (typeof value === "object" && value !== null) {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonical(v)}`).join(",")}}`;
  }
  return JSON.stringify(value) ?? "null";
}

/** Writes the report atomically (temporary file, then rename; never over a folder), creating its folder. */
export async function writeReport(path: string, report: RunReport): Promise<void> {
  await writeAtomically(
    path,
    (temp) => writeFile(temp, `${JSON.stringify(report, null, 2)}\n`),
    "the run report",
  );
}
