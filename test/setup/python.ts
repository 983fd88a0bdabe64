/**
 * Makes sure a Python with pandas and pyarrow exists for the round-trip tests: `MLBATCH_TEST_PYTHON` if
 * set, else `.venv/bin/python`, created from test/requirements.txt when missing (PyPI is reachable).
 */
import { execFileSync } from "node:child_process";
import { existsSync } from "node:fs";
import { resolve } from "node:path";
import type { TestProject } from "vitest/node";

declare module "vitest" {
  export interface ProvidedContext {
    python: string;
  }
}

function works(python: string): boolean {
  try {
    execFileSync(python, ["-c", "import pandas, pyarrow"], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
}

export default function setup(project: TestProject): void {
  const venv = resolve(".venv");
  const python = process.env.MLBATCH_TEST_PYTHON ?? resolve(venv, "bin", "python");
  if (!works(python)) {
    if (process.env.MLBATCH_TEST_PYTHON !== undefined) {
      throw new Error(`MLBATCH_TEST_PYTHON=${python} cannot import pandas and pyarrow`);
    }
    if (!existsSync(python)) execFileSync("python3", ["-m", "venv", venv], { stdio: "inherit" });
    execFileSync(python, ["-m", "pip", "install", "--quiet", "-r", "test/requirements.txt"], {
      stdio: "inherit",
    });
  }
  project.provide("python", python);
}
