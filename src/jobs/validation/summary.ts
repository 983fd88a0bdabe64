import type { ValidationReport } from "../../data/validation-report.js";
import type { ValidationSummary } from "../../report/sections.js";
import type { ValidationPolicy } from "./config.js";
import type { CheckedInputs } from "./policy.js";

/**
 * What `mlbatch validate` prints when the inputs pass: rows, checks, and what a run would set aside.
 *
 * @param asked - the model URI the job asked for (`models:/bikes@Champion`)
 * @example
 * ```ts
 * validationSummary(checked, policy, "models:/bikes@Champion");
 * // inputs "data/x.parquet" are valid for model models:/bikes/2 (models:/bikes@Champion): 3476 rows, 44 checks passed
 * ```
 */
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

/** The run report's `validation` section: the counts and each problem's figures, not its rows. */
export function validationFacts(report: ValidationReport): ValidationSummary {
  return {
    valid: report.valid,
    rows: { ...report.rows },
    problems: report.problems.map((p) => ({
      column: p.column,
      check: p.check,
      origin: p.origin,
      message: p.message,
      count: p.count ?? null,
    })),
  };
}
