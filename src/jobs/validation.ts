/**
 * The job's side of input validation: its config (`validation`), what happens to invalid rows
 * (`on_invalid`: fail, drop or quarantine, within limits), the JSON report, and writing the outputs and
 * the quarantined rows together.
 */
import * as z from "zod";
import { Constraints } from "../data/constraints.js";
import type { Database } from "../data/database.js";
import { type CastPolicy, validateInputs } from "../data/schema.js";
import type { Source } from "../data/source.js";
import { quotedIdentifier, quotedString } from "../data/sql.js";
import {
  isColumnProblem,
  reportJson,
  schemaError,
  type ValidationReport,
} from "../data/validation-report.js";
import { type StagedOutput, writeTextAtomically } from "../data/writers/atomic.js";
import { type Writer, WriterKind } from "../data/writers/index.js";
import type { FeatureSpec } from "../models/model.js";

const Cast = z.union([z.literal("safe"), z.literal("unsafe")]);

/** Config of the job's `validation`. */
export const ValidationConfig = z
  .strictObject({
    constraints: Constraints.default({}),
    cast: z
      .union([Cast, z.record(z.string().min(1), Cast)])
      .default("safe")
      .describe(
        "Column types MLflow's pyfunc refuses for their signature type (e.g. float64 data for a float " +
          "input): `safe` refuses them as MLflow does; `unsafe` converts them (rounding floats; a value " +
          "that does not convert, e.g. 2.5 for an integer, is an invalid row). For every column, or per " +
          "column, e.g. {temp: unsafe}.",
      ),
    on_invalid: z
      .union([z.literal("fail"), z.literal("drop"), z.literal("quarantine")])
      .default("fail")
      .describe(
        "Rows failing a row check: `fail` the job (nothing predicted or written), `drop` them, or " +
          "`quarantine` them (written by `quarantine` with their reasons).",
      ),
    quarantine: WriterKind.optional().describe(
      "Writer of the invalid rows, with columns mlbatch_row and mlbatch_reason (on_invalid: quarantine).",
    ),
    max_invalid_rows: z
      .int()
      .nonnegative()
      .optional()
      .describe("With drop or quarantine: fail the job when more rows than this are invalid."),
    max_invalid_fraction: z
      .number()
      .min(0)
      .max(1)
      .optional()
      .describe("With drop or quarantine: fail the job when more than this fraction of rows is invalid."),
    report: z
      .string()
      .min(1)
      .optional()
      .describe("Write the validation report as JSON to this file (also when validation fails)."),
  })
  .superRefine((v, ctx) => {
    if (v.on_invalid === "quarantine" && v.quarantine === undefined)
      ctx.addIssue({
        code: "custom",
        path: ["quarantine"],
        message:
          'missing: on_invalid "quarantine" needs a writer, e.g. {KIND: ParquetWriter, path: quarantine.parquet}',
      });
    if (v.on_invalid !== "quarantine" && v.quarantine !== undefined)
      ctx.addIssue({
        code: "custom",
        path: ["quarantine"],
        message: `only used with on_invalid "quarantine" (it is "${v.on_invalid}")`,
      });
  })
  .describe("Checks of the inputs beyond the signature, and what to do with invalid rows.");
export type ValidationConfig = z.infer<typeof ValidationConfig>;

/** The job's validation settings, as the job takes them. */
export interface ValidationPolicy {
  readonly constraints: Constraints;
  /** Column types to convert where MLflow refuses them (absent: none). */
  readonly cast?: CastPolicy | undefined;
  readonly onInvalid: "fail" | "drop" | "quarantine";
  readonly quarantine?: Writer | undefined;
  readonly maxInvalidRows?: number | undefined;
  readonly maxInvalidFraction?: number | undefined;
  readonly report?: string | undefined;
}

/** Inputs that passed validation: what to predict, and what was set aside. */
export interface CheckedInputs {
  /** The rows to predict: all of them, or the valid ones (same order, filtered in SQL). */
  readonly source: Source;
  readonly report: ValidationReport;
  /** Rows dropped or quarantined. */
  readonly rejected: number;
  /** The query of the quarantined rows (their columns, `mlbatch_row`, `mlbatch_reason`). */
  readonly quarantine?: string | undefined;
}

/**
 * Validates the inputs and applies the policy: writes the JSON report when asked, then fails (column
 * problems always; row problems with `fail` or beyond the limits) or sets invalid rows aside.
 *
 * @throws MlbatchError `E_SCHEMA` with every problem
 */
export async function checkInputsWith(
  db: Database,
  source: Source,
  features: readonly FeatureSpec[],
  model: string,
  policy: ValidationPolicy,
  idColumns: readonly string[],
): Promise<CheckedInputs> {
  const validation = await validateInputs(db, source, features, model, {
    constraints: policy.constraints,
    idColumns,
    cast: policy.cast,
  });
  const { report } = validation;
  const fatal = report.problems.some(isColumnProblem) || policy.onInvalid === "fail";
  const exceeded = fatal ? undefined : limitExceeded(report, policy);
  const outcome = report.valid ? "valid" : fatal || exceeded !== undefined ? "failed" : policy.onInvalid;
  if (policy.report !== undefined) {
    const json = reportJson(report, { on_invalid: policy.onInvalid, outcome });
    await writeTextAtomically(policy.report, json, "the validation report");
  }
  if (report.valid) return { source, report, rejected: 0 };
  if (fatal || validation.invalid === undefined) throw schemaError(report);
  if (exceeded !== undefined) {
    throw schemaError(report, `inputs "${report.inputs}": ${exceeded}, so nothing was predicted or written`);
  }
  const quarantine =
    policy.onInvalid === "quarantine"
      ? `(SELECT * EXCLUDE (__mlbatch_row), __mlbatch_row AS mlbatch_row, ${validation.reason} AS mlbatch_reason ` +
        `FROM ${source.query("*", true)} WHERE ${validation.invalid})`
      : undefined;
  return {
    source: source.where(`NOT (${validation.invalid})`),
    report,
    rejected: report.rows.invalid,
    quarantine,
  };
}

function limitExceeded(report: ValidationReport, policy: ValidationPolicy): string | undefined {
  const { total, invalid } = report.rows;
  const fraction = total === 0 ? 0 : invalid / total;
  const share = `${invalid} of ${total} rows (${(fraction * 100).toFixed(2)}%) are invalid`;
  if (policy.maxInvalidRows !== undefined && invalid > policy.maxInvalidRows)
    return `${share}, more than job.validation.max_invalid_rows (${policy.maxInvalidRows})`;
  if (policy.maxInvalidFraction !== undefined && fraction > policy.maxInvalidFraction)
    return `${share}, more than job.validation.max_invalid_fraction (${policy.maxInvalidFraction})`;
  return undefined;
}

/**
 * The outputs' query: the given input columns (ids, then passthrough) side by side with the predictions,
 * row by row, then the model column when asked.
 */
export function outputsQuery(
  source: Source,
  columns: readonly string[],
  predictions: string,
  modelColumn?: { readonly name: string; readonly value: string },
): string {
  const joined =
    columns.length === 0
      ? `(SELECT * FROM ${predictions})`
      : `(SELECT * FROM ${source.project(columns)} POSITIONAL JOIN ${predictions})`;
  if (modelColumn === undefined) return joined;
  return `(SELECT *, ${quotedString(modelColumn.value)} AS ${quotedIdentifier(modelColumn.name)} FROM ${joined})`;
}

/**
 * Writes the outputs and, when there are quarantined rows, the quarantine: both are staged first, then
 * both committed, so a failure while writing either leaves neither.
 *
 * @returns the rows written to the outputs and to the quarantine
 * @throws MlbatchError `E_WRITE`
 */
export async function writeOutputs(
  db: Database,
  outputs: {
    readonly writer: Writer;
    readonly query: string;
    readonly pandasIndex?: readonly string[] | undefined;
  },
  quarantine?: { readonly writer: Writer; readonly query: string },
): Promise<{ written: number; quarantined: number }> {
  const staged: StagedOutput[] = [];
  try {
    staged.push(await outputs.writer.stage(db, outputs.query, { pandasIndex: outputs.pandasIndex }));
    if (quarantine !== undefined) staged.push(await quarantine.writer.stage(db, quarantine.query));
    for (const output of staged) await output.commit();
    return { written: staged[0]?.rows ?? 0, quarantined: staged[1]?.rows ?? 0 };
  } catch (error) {
    for (const output of staged) await output.discard().catch(() => undefined);
    throw error;
  }
}

/** What `mlbatch validate` prints when the inputs pass: rows, checks, and what a run would set aside. */
export function validationSummary(checked: CheckedInputs, policy: ValidationPolicy, asked: string): string {
  const { report } = checked;
  const model = `model ${report.model} (${asked})`;
  if (report.valid) {
    return `inputs "${report.inputs}" are valid for ${model}: ${report.rows.total} rows, ${report.checks} checks passed`;
  }
  const action = policy.onInvalid === "drop" ? "drop" : "quarantine";
  return (
    `inputs "${report.inputs}": ${report.rows.invalid} of ${report.rows.total} rows are invalid for ${model}; ` +
    `with on_invalid "${policy.onInvalid}" a run would predict ${report.rows.total - checked.rejected} rows and ` +
    `${action} ${checked.rejected}:\n${report.problems.map((p) => `  - ${p.message}`).join("\n")}`
  );
}
