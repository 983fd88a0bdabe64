/**
 * MLflow's own verdicts on Parquet column types (test/fixtures/types/verdicts.py), computed once per test
 * file with a Python that has mlflow: `MLBATCH_TEST_MLFLOW_PYTHON` (CI exports it for the REST tests),
 * else `.venv-mlflow/bin/python`, created from test/fixtures/server/requirements.txt when missing (as
 * test/setup/mlflow-server.ts does).
 */
import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { SignatureType } from "../../src/models/signature.js";
import { ROOT } from "../helpers.js";

/** A value as verdicts.py encodes it: numbers (NaN, infinities as text), integers as decimal text. */
export type Encoded = number | string | boolean | null;

/** A column as pandas holds it. */
export interface EncodedColumn {
  readonly dtype: string;
  readonly values: readonly Encoded[];
}

/** One case: a Parquet file with column `x`, a signature type, and what MLflow made of it. */
export interface VerdictCase {
  readonly id: string;
  readonly file: string;
  readonly signature: SignatureType;
  /** The dtype `pd.read_parquet` gave the column. */
  readonly read: string;
  readonly mlflow:
    | ({ readonly verdict: "accepted" } & EncodedColumn)
    | { readonly verdict: "refused"; readonly message: string };
  /** numpy's `astype` of the column to the signature's type, for the cases `cast: unsafe` converts. */
  readonly unsafe?: EncodedColumn;
}

export interface Verdicts {
  /** The temporary folder of the cases' files (the caller removes it). */
  readonly folder: string;
  readonly versions: { readonly mlflow: string; readonly pandas: string; readonly pyarrow: string };
  readonly cases: readonly VerdictCase[];
}

const SCRIPT = join(ROOT, "test", "fixtures", "types", "verdicts.py");

function works(python: string): boolean {
  try {
    execFileSync(python, ["-c", "import mlflow, pandas, pyarrow"], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
}

/** A Python with mlflow, pandas and pyarrow. */
export function mlflowPython(): string {
  const given = process.env.MLBATCH_TEST_MLFLOW_PYTHON;
  if (given) {
    if (!works(given)) throw new Error(`MLBATCH_TEST_MLFLOW_PYTHON=${given} cannot import mlflow`);
    return given;
  }
  const venv = join(ROOT, ".venv-mlflow");
  const python = join(venv, "bin", "python");
  if (!works(python)) {
    if (!existsSync(python)) execFileSync("python3", ["-m", "venv", venv], { stdio: "inherit" });
    const requirements = join(ROOT, "test", "fixtures", "server", "requirements.txt");
    execFileSync(
      python,
      ["-m", "pip", "install", "--quiet", "--disable-pip-version-check", "-r", requirements],
      {
        stdio: "inherit",
      },
    );
    writeFileSync(join(venv, ".gitignore"), "*\n");
  }
  return python;
}

/** Writes the cases' files into a new temporary folder and returns MLflow's verdicts on them. */
export function mlflowVerdicts(): Verdicts {
  const folder = mkdtempSync(join(tmpdir(), "mlbatch-verdicts-"));
  const output = execFileSync(mlflowPython(), [SCRIPT, folder], {
    encoding: "utf8",
    maxBuffer: 16 * 2 ** 20,
    stdio: ["ignore", "pipe", "pipe"],
    timeout: 300_000,
  });
  return { folder, ...(JSON.parse(output) as Omit<Verdicts, "folder">) };
}
