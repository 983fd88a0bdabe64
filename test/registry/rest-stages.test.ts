/**
 * Stages, `latest`, logged models and runs:/ URIs through a live MLflow tracking server: the layout of
 * test/fixtures/stages registered by MLflow's client (register_stages.py), each URI checked against the
 * version MLflow resolves it to on the server and the model files MLflow downloads for it.
 */
import { execFileSync } from "node:child_process";
import { join } from "node:path";
import { afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { MlbatchError } from "../../src/errors.js";
import { openRegistry } from "../../src/registry/index.js";
import { modelRequest, resolveModel } from "../../src/registry/request.js";
import { INPUTS_TEST, inferenceJob, REGISTRIES, removeDir, tempDir } from "../helpers.js";
import { maxDifference, mlflowService, stack } from "./rest-helpers.js";
import { STAGES_DIR, type Verdict } from "./stages-fixture.js";

const EXPECTED = join(REGISTRIES, "expected_predictions.parquet");
const POLICY = { timeout: 5, maxRetries: 3, backoffFactor: 0.05, backoffJitter: 0.05 };

let verdicts: readonly Verdict[] = [];
beforeAll(() => {
  const out = execFileSync(
    stack().python,
    [join(STAGES_DIR, "register_stages.py"), "--tracking-uri", stack().uri],
    { encoding: "utf8", env: { ...process.env, MLFLOW_DISABLE_TELEMETRY: "true" } },
  );
  verdicts = (JSON.parse(out.trim().split("\n").at(-1) ?? "{}") as { uris: Verdict[] }).uris;
  expect(verdicts.length).toBe(11);
}, 300_000);

let dir: string;
beforeEach(() => {
  dir = tempDir("mlbatch-rest-stages-");
});
afterEach(() => removeDir(dir));

async function resolve(aliasOrVersion: string, uri?: string) {
  const registry = openRegistry(stack().uri, { http: POLICY });
  try {
    return await resolveModel(registry, modelRequest("bikes_stages", aliasOrVersion, uri));
  } finally {
    registry.close();
  }
}

describe("a tracking server holding versions in stages", () => {
  it("given each URI, when a job runs with it as model_uri, then it loads the version and predictions of the model MLflow loads", async () => {
    for (const verdict of verdicts) {
      const { job } = inferenceJob({
        inputs: { KIND: "ParquetReader", path: INPUTS_TEST },
        outputs: { KIND: "ParquetWriter", path: join(dir, `${verdicts.indexOf(verdict)}.parquet`) },
        mlflow_service: mlflowService(stack().uri, { name: "bikes_stages" }),
        model_uri: verdict.uri,
      });
      const locals = await job.execute();
      expect({ uri: verdict.uri, version: locals.modelVersion.version }).toEqual({
        uri: verdict.uri,
        version: verdict.version,
      });
      expect(await maxDifference(locals.outputs.path, EXPECTED, verdict.model)).toBeLessThan(1e-4);
    }
  });

  it("given alias_or_version Production, no such alias, when resolved, then the stage's newest version is", async () => {
    expect(await resolve("Production")).toMatchObject({ version: 2, stage: "Production" });
    expect(await resolve("LATEST")).toMatchObject({ version: 5, stage: "latest" });
    expect(await resolve("Staging")).toMatchObject({ version: 4, alias: "Staging", stage: undefined });
  });

  it("given models:/bikes_stages@Production (expected failure), when resolved, then the error lists the aliases and the stages", async () => {
    const error = await resolve("Champion", "models:/bikes_stages@Production").catch((e: unknown) => e);
    expect(error).toBeInstanceOf(MlbatchError);
    expect((error as MlbatchError).code).toBe("E_MODEL_NOT_FOUND");
    expect((error as MlbatchError).message).toContain(
      'alias "Production" not found for model "bikes_stages"; aliases: Champion -> 2, Staging -> 4; stages ' +
        "(newest version in each): None -> 5, Staging -> 3, Production -> 2, Archived -> 4.",
    );
  });

  it("given a logged model id the server does not have (expected failure), when resolved, then E_MODEL_NOT_FOUND names it", async () => {
    const error = await resolve("Champion", "models:/m-00000000000000000000000000000000").catch(
      (e: unknown) => e,
    );
    expect((error as MlbatchError).code).toBe("E_MODEL_NOT_FOUND");
    expect((error as MlbatchError).message).toContain("logged model m-00000000000000000000000000000000");
  });
});
