// env_manager uv: the model's environment built once from its python_env.yaml / requirements.txt (real uv,
// real PyPI), reused by a concurrent run that waited on the lock; a requirement that cannot be installed
// fails with uv's own message.
import { execFileSync } from "node:child_process";
import { cpSync, existsSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { isMlbatchError } from "../../src/errors.js";
import { createLoader } from "../../src/models/loaders/index.js";
import { readMLmodel } from "../../src/models/mlmodel.js";
import { removeDir } from "../helpers.js";
import { folderOf, mlflow3, runJob, type Store, tempDir } from "./fixture.js";

const work = tempDir("mlbatch-pyfunc-env-");
afterAll(() => removeDir(work));
let store: Store;
let uv: string;

/** uv from PyPI, in a venv of its own (made once in the temp folder), unless $MLBATCH_TEST_UV names one. */
function installUv(): string {
  if (process.env.MLBATCH_TEST_UV) return process.env.MLBATCH_TEST_UV;
  const venv = join(tmpdir(), "mlbatch-test-uv");
  const bin = join(venv, "bin", "uv");
  if (!existsSync(bin)) {
    execFileSync("python3", ["-m", "venv", venv]);
    execFileSync(join(venv, "bin", "pip"), ["install", "--quiet", "--disable-pip-version-check", "uv"]);
  }
  return bin;
}

beforeAll(async () => {
  uv = installUv();
  store = await mlflow3();
}, 300_000);

describe("env_manager uv", () => {
  it("given a fresh environment folder and two runs at once, when both load the model, then one builds its environment and the other reuses it", async () => {
    const envDir = join(work, "envs");
    const loader = { env_manager: "uv", env_dir: envDir, python: undefined };
    const env = { MLBATCH_UV: uv };
    const runs = [1, 2].map((i) =>
      runJob(store, "bikes_busy", join(work, `uv-${i}.parquet`), { loader, env }),
    );
    const results = await Promise.all(runs.map((r) => r.done));
    for (const r of results) expect(r.code, r.stderr).toBe(0);
    const engines = results.map((r) => /Model engine: (pyfunc[^"]*)/.exec(r.stdout + r.stderr)?.[1] ?? "");
    expect(engines.filter((e) => e.includes("(built)"))).toHaveLength(1);
    expect(engines.filter((e) => e.includes("(cached)"))).toHaveLength(1);
    const built = readdirSync(envDir);
    expect(built.filter((name) => name.startsWith("uv-"))).toHaveLength(1);
    expect(built.filter((name) => name.endsWith(".lock"))).toEqual([]);
    expect(readFileSync(join(work, "uv-1.parquet")).equals(readFileSync(join(work, "uv-2.parquet")))).toBe(
      true,
    );
  }, 900_000);

  it("given a model whose requirements name a package that does not exist, when it loads, then it fails naming the file and with uv's own message, leaving no environment", async () => {
    const folder = join(work, "bad-model");
    cpSync(folderOf(store, "bikes_busy"), folder, { recursive: true });
    const requirements = join(folder, "requirements.txt");
    writeFileSync(requirements, `${readFileSync(requirements, "utf8")}mlbatch-no-such-package==0.0.1\n`);
    const envDir = join(work, "bad-envs");
    process.env.MLBATCH_UV = uv;
    const mlmodel = await readMLmodel(folder, "models:/bad/1");
    const loader = createLoader({
      KIND: "CustomLoader",
      pyfunc: "always",
      env_manager: "uv",
      env_dir: envDir,
      timeout: 600,
    });
    const error = await loader.load("models:/bad/1", mlmodel).catch((e: unknown) => e);
    expect(isMlbatchError(error, "E_MODEL_LOAD")).toBe(true);
    const message = (error as Error).message;
    expect(message).toContain("cannot build its uv environment from python_env.yaml");
    expect(message).toContain("mlbatch-no-such-package");
    expect(readdirSync(envDir).filter((name) => name.startsWith("uv-") && !name.endsWith(".lock"))).toEqual(
      [],
    );
  }, 300_000);
});
