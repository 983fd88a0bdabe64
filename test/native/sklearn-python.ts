/**
 * A Python with scikit-learn and skops for the tests that train models at test time:
 * `MLBATCH_SKLEARN_PYTHON` if set; else the tests' Python (test/setup/python.ts) when it has them (CI
 * installs test/requirements.txt); else a venv made once from test/requirements.txt in
 * test/fixtures/native/sklearn/.venv (git-ignored).
 */
import { execFileSync } from "node:child_process";
import { existsSync } from "node:fs";
import { join, resolve } from "node:path";

function works(python: string): boolean {
  try {
    execFileSync(python, ["-c", "import sklearn, skops"], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
}

export function sklearnPython(testPython: string): string {
  const given = process.env.MLBATCH_SKLEARN_PYTHON;
  if (given !== undefined) {
    if (!works(given)) throw new Error(`MLBATCH_SKLEARN_PYTHON=${given} cannot import sklearn and skops`);
    return given;
  }
  if (works(testPython)) return testPython;
  const venv = resolve(import.meta.dirname, "../fixtures/native/sklearn/.venv");
  const python = join(venv, "bin", "python");
  if (!works(python)) {
    if (!existsSync(python)) execFileSync("python3", ["-m", "venv", venv], { stdio: "inherit" });
    const requirements = resolve(import.meta.dirname, "../requirements.txt");
    execFileSync(python, ["-m", "pip", "install", "--quiet", "-r", requirements], { stdio: "inherit" });
  }
  return python;
}
