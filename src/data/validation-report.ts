/**
 * The outcome of validating inputs: every problem found, with counts and sample rows, readable by people
 * (error messages, the CLI) and as JSON (`validation.report`).
 */
import { MlbatchError } from "../errors.js";
import type { CheckName } from "./constraints.js";

/** A failing row as a report shows it. */
export interface ProblemRow {
  /** 0-based input row number. */
  readonly row: number;
  /** The row's id column values. */
  readonly ids: Readonly<Record<string, unknown>>;
  /** The failing value as text (absent for a null). */
  readonly value?: string;
}

/** One problem the validation found: a column and a check, with its failing rows for row checks. */
export interface SchemaProblem {
  readonly column: string;
  readonly check: CheckName;
  /** Where the check comes from: the model's signature, or the job's constraints. */
  readonly origin: "signature" | "constraints";
  /** What a valid value is (row checks), e.g. `>= 0`. */
  readonly expected?: string;
  readonly message: string;
  /** For row checks: how many rows fail, and the first few. */
  readonly count?: number;
  readonly rows?: readonly ProblemRow[];
}

/** What validation found. */
export interface ValidationReport {
  /** The inputs as the user named them. */
  readonly inputs: string;
  /** The model whose signature was checked (`models:/bikes/2`). */
  readonly model: string;
  /** True when there is no problem at all. */
  readonly valid: boolean;
  /** Rows read, and rows failing at least one row check. */
  readonly rows: { readonly total: number; readonly invalid: number };
  /** How many checks ran (column checks and row checks). */
  readonly checks: number;
  readonly problems: readonly SchemaProblem[];
  /** The input's columns and types, `hr BIGINT, ...`, for messages. */
  readonly columns: string;
}

/** True when a problem is about a whole column (missing, wrong type), so rows cannot be dropped for it. */
export function isColumnProblem(problem: SchemaProblem): boolean {
  return problem.count === undefined;
}

/** The problems as indented lines, one per column and check. */
export function problemLines(report: ValidationReport): string {
  return report.problems.map((p) => `  - ${p.message}`).join("\n");
}

/**
 * The `E_SCHEMA` error of a report: every problem, the input's columns, and what to do. The report's
 * problems are attached as `problems`, and the report as `report`.
 *
 * @param reason - what is wrong, when not simply "the inputs do not match"
 */
export function schemaError(report: ValidationReport, reason?: string): MlbatchError {
  const constraints = report.problems.some((p) => p.origin === "constraints");
  const heading =
    reason ??
    `inputs "${report.inputs}" do not match the signature of model ${report.model}${constraints ? " and job.validation.constraints" : ""}`;
  const rowProblems = report.problems.some((p) => !isColumnProblem(p));
  const rows = rowProblems ? `\nrows: ${report.rows.total} read, ${report.rows.invalid} invalid` : "";
  const advice = constraints
    ? "Fix the input data or job.validation.constraints, or set job.validation.on_invalid to drop or quarantine invalid rows."
    : "Fix the input data or register a model whose signature matches it.";
  return Object.assign(
    new MlbatchError(
      "E_SCHEMA",
      `${heading}:\n${problemLines(report)}\ninput columns: ${report.columns}${rows}\n${advice}`,
    ),
    { problems: report.problems, report },
  );
}

/** The report as a JSON document (values made JSON-safe: big integers as numbers or strings). */
export function reportJson(report: ValidationReport, extra: Record<string, unknown> = {}): string {
  const { columns: _, ...rest } = report;
  return `${JSON.stringify({ ...rest, ...extra }, (_key, value: unknown) => jsonSafe(value), 2)}\n`;
}

function jsonSafe(value: unknown): unknown {
  if (typeof value === "bigint")
    return Number.isSafeInteger(Number(value)) ? Number(value) : value.toString();
  if (value instanceof Date) return value.toISOString();
  return value;
}
