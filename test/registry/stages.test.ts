/**
 * Stages, `latest`, logged models and runs:/ URIs in the stores of test/fixtures/stages (made by MLflow 2
 * and 3, see make_stages.py): every URI resolves to the version MLflow itself resolved it to.
 */
import { existsSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { MlbatchError } from "../../src/errors.js";
import { openRegistry, type Registry } from "../../src/registry/index.js";
import { parseModelUri } from "../../src/registry/model-uri.js";
import { modelRequest, resolutionText, resolveModel } from "../../src/registry/request.js";
import { ROOT } from "../helpers.js";
import { STAGE_STORES, type StageStore, VERDICTS } from "./stages-fixture.js";

const registries: Registry[] = [];
afterAll(() => {
  for (const opened of registries) opened.close();
});
function registry(store: StageStore): Registry {
  const opened = openRegistry(STAGE_STORES[store]);
  registries.push(opened);
  return opened;
}

async function notFound(promise: Promise<unknown>): Promise<string> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(MlbatchError);
  expect((error as MlbatchError).code).toBe("E_MODEL_NOT_FOUND");
  return (error as MlbatchError).message;
}

describe("parsing model URIs as MLflow does", () => {
  it("given every form, when parsed, then stages and latest are matched in any case", () => {
    expect(parseModelUri("models:/bikes/Production")).toEqual({ name: "bikes", stage: "Production" });
    expect(parseModelUri("models:/bikes/production")).toEqual({ name: "bikes", stage: "Production" });
    expect(parseModelUri("models:/bikes/ARCHIVED")).toEqual({ name: "bikes", stage: "Archived" });
    expect(parseModelUri("models:/bikes/none")).toEqual({ name: "bikes", stage: "None" });
    expect(parseModelUri("models:/bikes/Latest")).toEqual({ name: "bikes", stage: "latest" });
    expect(parseModelUri("models:/bikes/7")).toEqual({ name: "bikes", version: 7 });
    expect(parseModelUri("models:/team@bikes@prod")).toEqual({ name: "team@bikes", alias: "prod" });
    expect(parseModelUri("models:/m-0123abcd")).toEqual({ modelId: "m-0123abcd" });
    expect(parseModelUri("runs:/0123abcd/model")).toEqual({ runId: "0123abcd", path: "model" });
    expect(parseModelUri("runs:/0123abcd/nested/model/")).toEqual({
      runId: "0123abcd",
      path: "nested/model",
    });
  });

  it.each([
    [
      "models:/bikes/Prod",
      /"Prod" is neither a version number, "latest", nor a stage \(None, Staging, Production, Archived\)/,
    ],
    ["models:/bikes/1/2", /at most one suffix/],
    ["models:/bikes@", /needs a name and an alias/],
    ["models:/bikes", /"bikes" alone is not a logged model id/],
    ["runs:/0123abcd", /no run id and artifact path/],
    ["s3://bucket/model", /not a models:\/ or runs:\/ URI/],
  ])("given %s (expected failure), when parsed, then E_CONFIG says why and lists the forms", (uri, why) => {
    const error = (() => {
      try {
        parseModelUri(uri);
      } catch (e) {
        return e as MlbatchError;
      }
      throw new Error("expected a failure");
    })();
    expect(error.code).toBe("E_CONFIG");
    expect(error.message).toMatch(why);
    expect(error.message).toContain(
      "models:/<name>/<stage> (None, Staging, Production, Archived), models:/<name>/latest",
    );
  });
});

describe.each(Object.keys(STAGE_STORES) as StageStore[])("the %s store with stages", (store) => {
  it.each(VERDICTS[store].uris.map((v) => [v.uri, v] as const))(
    "given %s, when resolved, then it is the version MLflow resolved it to, with its files",
    async (uri, verdict) => {
      const opened = registry(store);
      const resolved = await resolveModel(opened, modelRequest("bikes", "Champion", uri));
      expect(resolved.version).toBe(verdict.version);
      if (verdict.version !== null) expect(resolved.uri).toBe(`models:/bikes/${verdict.version}`);
      else expect(resolved.uri).toBe(uri);
      const directory = await opened.modelDirectory(resolved);
      expect(existsSync(join(directory, "MLmodel"))).toBe(true);
      expect(existsSync(join(directory, "model.onnx"))).toBe(true);
    },
  );

  it("given alias_or_version Production and no such alias, when resolved, then the stage's newest version is, and says so", async () => {
    const request = modelRequest("bikes", "Production");
    const resolved = await resolveModel(registry(store), request);
    expect(resolved).toMatchObject({ version: 2, stage: "Production", alias: undefined });
    expect(resolutionText(request, resolved)).toBe(
      'models:/bikes@Production to version 2 (no alias "Production": resolved stage Production to version 2, its newest version in that stage)',
    );
    expect(await resolveModel(registry(store), modelRequest("bikes", "archived"))).toMatchObject({
      version: 4,
    });
    expect(await resolveModel(registry(store), modelRequest("bikes", "latest"))).toMatchObject({
      version: 5,
      stage: "latest",
    });
  });

  it("given models:/bikes@latest, when resolved, then it is the newest version, as MLflow 3 reads it (latest cannot be an alias)", async () => {
    const resolved = await resolveModel(
      registry(store),
      modelRequest("bikes", "Champion", "models:/bikes@Latest"),
    );
    expect(resolved).toMatchObject({ version: 5, stage: "latest" });
  });

  it("given alias_or_version Staging, which is also an alias, when resolved, then the alias wins", async () => {
    const resolved = await resolveModel(registry(store), modelRequest("bikes", "Staging"));
    expect(resolved).toMatchObject({ version: 4, alias: "Staging", stage: undefined });
  });

  it("given models:/bikes@Production (expected failure), when resolved, then an alias URI never falls back to a stage", async () => {
    const message = await notFound(
      resolveModel(registry(store), modelRequest("bikes", "Champion", "models:/bikes@Production")),
    );
    expect(message).toBe(
      'alias "Production" not found for model "bikes"; aliases: Champion -> 2, Staging -> 4; stages (newest ' +
        "version in each): None -> 5, Staging -> 3, Production -> 2, Archived -> 4. Set job.alias_or_version to " +
        "one of them (an alias, a stage) or to a version number, or job.model_uri to a models:/ URI.",
    );
  });

  it("given an alias_or_version that is neither an alias nor a stage (expected failure), when resolved, then the error lists the aliases and the stages", async () => {
    const message = await notFound(resolveModel(registry(store), modelRequest("bikes", "Champ")));
    expect(message).toContain(
      'alias "Champ" not found for model "bikes"; aliases: Champion -> 2, Staging -> 4;',
    );
    expect(message).toContain(
      "stages (newest version in each): None -> 5, Staging -> 3, Production -> 2, Archived -> 4.",
    );
  });

  it("given the deleted version 6 (expected failure), when resolved by number, then it is not found", async () => {
    const message = await notFound(resolveModel(registry(store), modelRequest("bikes", 6)));
    expect(message).toContain('version 6 not found for model "bikes"; versions: 1, 2, 3, 4, 5.');
  });

  it.runIf(store.startsWith("mlflow2"))(
    "given a logged model id in an MLflow 2 store (expected failure), when resolved, then the error says MLflow 2 has none",
    async () => {
      const message = await notFound(
        resolveModel(registry(store), modelRequest("bikes", "Champion", "models:/m-0123456789abcdef")),
      );
      expect(message).toContain("logged model m-0123456789abcdef (models:/m-0123456789abcdef) not found");
    },
  );

  it("given a run that does not exist (expected failure), when resolved, then the error names it", async () => {
    const message = await notFound(
      resolveModel(registry(store), modelRequest("bikes", "Champion", "runs:/0000/model")),
    );
    expect(message).toContain("run 0000 (runs:/0000/model) not found in");
  });
});

describe("the registries fixture, where every version is in stage None", () => {
  it("given alias_or_version Production (expected failure), when resolved, then the error says there is neither the alias nor the stage", async () => {
    const opened = openRegistry(
      `sqlite:///${join(ROOT, "test", "fixtures", "registries", "mlflow2-sqlite", "mlflow.db")}`,
    );
    registries.push(opened);
    const message = await notFound(resolveModel(opened, modelRequest("bikes", "Production")));
    expect(message).toBe(
      'model "bikes" has no alias "Production" and no version in stage Production; aliases: Challenger -> 1, ' +
        "Champion -> 2, Pickled -> 3; stages (newest version in each): None -> 3. Set job.alias_or_version to one " +
        "of them (an alias, a stage) or to a version number, or job.model_uri to a models:/ URI.",
    );
    const stage = await notFound(
      resolveModel(opened, modelRequest("bikes", "Champion", "models:/bikes/Staging")),
    );
    expect(stage).toContain(
      'no version of model "bikes" is in stage Staging (models:/bikes/Staging); stages (newest version in each): None -> 3;',
    );
    expect(stage).toContain('transition_model_version_stage("bikes", <version>, "Staging")');
  });
});
