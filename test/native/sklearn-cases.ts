/** The fixtures of test/fixtures/native/sklearn (made by make.py): models, input rows, scikit-learn's predictions. */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import type { Batch, Column } from "../../src/data/batch.js";

export const SKLEARN_DIR = join(import.meta.dirname, "../fixtures/native/sklearn");

type Cell = number | string | null;

/** One model's case: the columns it was fitted on, and scikit-learn's outputs on the rows. */
export interface SklearnCase {
  readonly columns: readonly string[];
  /** Whether its rows have NaNs (else the `clean` floats). */
  readonly nan: boolean;
  readonly predict: readonly Cell[];
  readonly classes?: readonly (number | string)[];
  readonly proba?: readonly (readonly number[])[];
}

interface Cases {
  readonly inputs: Readonly<Record<string, readonly Cell[]>>;
  readonly clean: Readonly<Record<string, readonly Cell[]>>;
  readonly models: Readonly<Record<string, SklearnCase>>;
  /** Models mlbatch refuses, and the class the refusal names. */
  readonly refused?: Readonly<Record<string, string>>;
}

export const CASES = JSON.parse(readFileSync(join(SKLEARN_DIR, "cases.json"), "utf8")) as Cases;

/** The input rows as a batch: numbers as float64 (null as NaN), strings as strings. */
export function inputBatch(nan: boolean): Batch {
  const columns = Object.entries(CASES.inputs).map(([name, values]): Column => {
    const cells = (!nan && CASES.clean[name]) || values;
    if (cells.every((v) => typeof v === "string"))
      return { name, type: "string", data: [...(cells as string[])] };
    return {
      name,
      type: "float64",
      data: Float64Array.from(cells, (v) => (v === null ? Number.NaN : Number(v))),
    };
  });
  return { length: CASES.inputs.season?.length ?? 0, columns };
}
