/**
 * `mlbatch profile --log` and `drift.reference: model`: the training profile logged to the model version's
 * run, in each kind of store (a file store and a SQLite store of real MLflow, a tracking server with proxied
 * artifacts), as MLflow's own client then finds it (`list_artifacts`, `download_artifacts`); a run with
 * `reference: model` finds the same drift as against the training data itself.
 */
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { RunReport } from "../../src/report/run-report.js";
import { BIKES, cli, copyStore, INPUTS_TEST, python, removeDir, reportedError, tempDir } from "../helpers.js";
import { stack } from "./rest-helpers.js";

const CONFIG = join(BIKES, "confs", "inference.yaml");
const TRAIN = join(BIKES, "data", "inputs_train.parquet");
const ARTIFACT = "mlbatch/training.profile.json";

/** Points a copied store's recorded absolute paths at the copy, so that MLflow's client reads it there. */
const REBASE = `
import glob, os, re, sqlite3, sys
root, kind = sys.argv[1], sys.argv[2]
stale = re.compile(r"/tmp/mlbatch-store-[^/]+")
if kind == "file":
    for path in glob.glob(root + "/mlruns/**/meta.yaml", recursive=True):
        text = open(path).read()
        open(path, "w").write(stale.sub(root, text))
        if "run_id:" in text:  # a run: the empty folders MLflow made and git does not keep
            for folder in ("metrics", "params", "tags", "artifacts"):
                os.makedirs(os.path.join(os.path.dirname(path), folder), exist_ok=True)
else:
    db = sqlite3.connect(root + "/mlflow.db")
    for (table,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'").fetchall():
        for column in db.execute(f"PRAGMA table_info('{table}')").fetchall():
            if "CHAR" in column[2].upper() or "TEXT" in column[2].upper():
                rows = db.execute(f'SELECT rowid, "{column[1]}" FROM "{table}"').fetchall()
                for rowid, value in rows:
                    if isinstance(value, str) and stale.search(value):
                        db.execute(f'UPDATE "{table}" SET "{column[1]}" = ? WHERE rowid = ?', (stale.sub(root, value), rowid))
    db.commit()
`;

/** What MLflow's client lists under the run's mlbatch/ folder, and the profile file it downloads. */
const MLFLOW_READS = `
import json, os, sys
os.environ["MLFLOW_ALLOW_FILE_STORE"] = "true"  # MLflow 3 reads file stores only when told
import mlflow
from mlflow import MlflowClient
uri, run_id = sys.argv[1], sys.argv[2]
client = MlflowClient(tracking_uri=uri, registry_uri=uri)
listed = [a.path for a in client.list_artifacts(run_id, "mlbatch")]
path = mlflow.artifacts.download_artifacts(run_id=run_id, artifact_path="${ARTIFACT}", tracking_uri=uri)
print(json.dumps({"listed": listed, "content": open(path).read()}))
`;

let dir: string;
const copies: string[] = [];
beforeAll(() => {
  dir = tempDir();
});
afterAll(() => {
  removeDir(dir);
  for (const copy of copies) removeDir(copy);
});

function storeExtras(store: string, name: string, drift?: string): string {
  return (
    `job: {mlflow_service: {tracking_uri: '${store}', registry_uri: '${store}', cache: {enable: false}}, ` +
    `inputs: {path: '${INPUTS_TEST}'}, outputs: {path: '${join(dir, `${name}.parquet`)}'}, ` +
    `report: '${join(dir, `${name}.json`)}'${drift === undefined ? "" : `, drift: {reference: '${drift}'}`}}`
  );
}

function report(name: string): RunReport {
  return JSON.parse(readFileSync(join(dir, `${name}.json`), "utf8")) as RunReport;
}

/** Profiles the training inputs into the store's Champion's run; checks MLflow's view and the drift. */
function logAndCompare(store: string, name: string, mlflowPython: string): void {
  const file = join(dir, `${name}.profile.json`);
  const logged = cli([
    "profile",
    CONFIG,
    "--data",
    TRAIN,
    "--output",
    file,
    "--log",
    "-e",
    storeExtras(store, `${name}-p`),
  ]);
  expect(logged.code, logged.stderr).toBe(0);
  expect(logged.stdout).toMatch(
    new RegExp(
      `^profile ${file} and .*${ARTIFACT}: 13903 rows, 14 columns of ${TRAIN}, model models:/bikes/\\d+\\n$`,
    ),
  );

  const fromModel = cli(["run", CONFIG, "-e", storeExtras(store, `${name}-model`, "model")]);
  expect(fromModel.code, fromModel.stderr).toBe(0);
  const fromData = cli(["run", CONFIG, "-e", storeExtras(store, `${name}-data`, TRAIN)]);
  expect(fromData.code, fromData.stderr).toBe(0);
  const model = report(`${name}-model`);
  const runId = model.model?.run_id;
  expect(runId).toMatch(/^[0-9a-f]{32}$/);
  expect(model.drift!.reference).toBe(`model models:/bikes/${model.model!.version} (${TRAIN})`);
  expect(model.drift!.columns).toEqual(report(`${name}-data`).drift!.columns);

  // MLflow's own client finds the file among the run's artifacts, byte for byte what mlbatch profiled.
  const seen = JSON.parse(python(mlflowPython, MLFLOW_READS, [store, runId as string])) as {
    listed: string[];
    content: string;
  };
  expect(seen.listed).toEqual([ARTIFACT]);
  expect(seen.content).toBe(readFileSync(file, "utf8"));
  expect(JSON.parse(seen.content)).toMatchObject({ mlbatch_profile: 1, rows: 13903, source: TRAIN });
}

describe("mlbatch profile --log, drift.reference: model", () => {
  for (const [kind, fixture] of [
    ["file", "mlflow3-file"],
    ["sqlite", "mlflow3-sqlite"],
  ] as const) {
    it(`given an MLflow 3 ${kind} store, then MLflow's client reads the logged profile and the drift equals the data's`, () => {
      const copy = copyStore(fixture);
      copies.push(copy);
      const mlflowPython = stack().python;
      python(mlflowPython, REBASE, [copy, kind]);
      const store = kind === "file" ? join(copy, "mlruns") : `sqlite:///${join(copy, "mlflow.db")}`;
      logAndCompare(store, kind, mlflowPython);
    });
  }

  it("given a tracking server with proxied artifacts, then the profile is uploaded there and read back", () => {
    const { uri, python: mlflowPython } = stack();
    try {
      logAndCompare(uri, "server", mlflowPython);
    } finally {
      // The stack is shared: the file is removed from the run, as MLflow's client removes artifacts.
      python(
        mlflowPython,
        `
import sys, mlflow
from mlflow import MlflowClient
from mlflow.store.artifact.artifact_repository_registry import get_artifact_repository
mlflow.set_tracking_uri(sys.argv[1])
client = MlflowClient()
version = client.get_model_version_by_alias("bikes", "Champion")
get_artifact_repository(client.get_run(version.run_id).info.artifact_uri).delete_artifacts("mlbatch")
`,
        [uri],
      );
    }
  });

  it("given a moved store (stale recorded paths), then the profile goes into the copy, as the registry reads it", () => {
    const copy = copyStore("mlflow2-file");
    copies.push(copy);
    const store = join(copy, "mlruns");
    const logged = cli(["profile", CONFIG, "--data", TRAIN, "--log", "-e", storeExtras(store, "moved-p")]);
    expect(logged.code, logged.stderr).toBe(0);
    const written = logged.stdout.slice("profile ".length, logged.stdout.indexOf(":"));
    expect(written.startsWith(store)).toBe(true);
    expect(existsSync(written)).toBe(true);
    const run = cli(["run", CONFIG, "-e", storeExtras(store, "moved", "model")]);
    expect(run.code, run.stderr).toBe(0);
    expect(report("moved").drift!.reference).toMatch(/^model models:\/bikes\/\d+ /);
  });

  it("given no profile logged with the version, then the run fails with E_READ naming the run and the fix, nothing written", () => {
    const copy = copyStore("mlflow3-sqlite");
    copies.push(copy);
    const store = `sqlite:///${join(copy, "mlflow.db")}`;
    const run = cli(["run", CONFIG, "-e", storeExtras(store, "none", "model")]);
    expect(run.code).toBe(1);
    expect(reportedError(run.stderr)).toMatch(
      new RegExp(
        `^error \\[E_READ\\] \\(step: validate\\): drift.reference is model, but no profile is logged with ` +
          `model models:/bikes/\\d+: its run [0-9a-f]{32} has no artifact ${ARTIFACT}\\. Log one from the ` +
          "training data: mlbatch profile <config> --data <training data> --log",
      ),
    );
    expect(existsSync(join(dir, "none.parquet"))).toBe(false);
    expect(`${run.stdout}${run.stderr}`).toContain("Inference Job Failed: [E_READ] drift.reference is model");
  });

  it("given neither --output nor --log, then exit 2 naming both", () => {
    const run = cli(["profile", CONFIG, "--data", TRAIN]);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain(
      '"profile" needs --data <training data>, and --output <file.profile.json> or --log',
    );
    const misplaced = cli(["run", CONFIG, "--log"]);
    expect(misplaced.code).toBe(2);
    expect(misplaced.stderr).toContain('--data, --output and --log apply to "profile" only');
  });
});
