/**
 * What the job does with validation's report: write it as JSON when asked, then fail (column problems
 * always; row problems with `on_invalid: fail`, or beyond the limits) or set the invalid rows aside in SQL
 * (`drop`, `quarantine`).
 */
import type { Database } from "../../data/database.js";
import { validateInputs } from "../../data/schema.js";
import type { Source } from "../../data/source.js";
import {
  isColumnProblem,
  reportJson,
  schemaError,
  type ValidationReport,
} from "../../data/validation-report.js";
import { writeTextAtomically } from "../../data/writers/atomic.js";
import type { RowProducer } from "../../data/writers/writer.js";
import type { FeatureSpec } from "../../models/model.js";
import type { ValidationPolicy } from "./config.js";

/** Inputs that passed validation: what to predict, and what was set aside. */
export interface CheckedInputs {
  /** The rows to predict: all of them, or the valid ones (same order, filtered in SQL). */
  readonly source: Source;
  readonly report: ValidationReport;
  /** Rows dropped or quarantined. */
  readonly rejected: number;
  /**
   * Appends the quarantined rows (their columns, `mlbatch_row`, `mlbatch_reason`) to a writer's sink, one
   * part of the input after the other (an input on an object store is read again, part by part).
   */
  readonly quarantine?: RowProducer | undefined;
}

/**
 * Validates the inputs and applies the policy.
 *
 * @param model - the model's URI, for messages
 * @throws MlbatchError `E_SCHEMA` with every problem
 * @example
 * ```ts
 * const { source, rejected } = await checkWithPolicy(db, inputs, model.inputs, "models:/bikes/2", policy, ["instant"]);
 * ```
 */
export async function checkWithPolicy(
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
  const { invalid, reason } = validation;
  const quarantine: RowProducer | undefined =
    policy.onInvalid === "quarantine"
      ? async (sink) => {
          await source.passes((part) =>
            sink.append(
              `(SELECT * EXCLUDE (__mlbatch_row), __mlbatch_row AS mlbatch_row, ${reason} AS mlbatch_reason ` +
                `FROM ${part("*", true)} WHERE ${invalid})`,
            ),
          );
        }
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
