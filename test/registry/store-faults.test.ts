/** Local stores in a bad state: an alias to a deleted version. */
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import Sqlite from "better-sqlite3";
import { afterEach, describe, expect, it } from "vitest";
import { MlbatchError } from "../../src/errors.js";
import { openRegistry } from "../../src/registry/index.js";
import type { ModelReference } from "../../src/registry/model-uri.js";
import { copyStore, removeDir, STORES } from "../helpers.js";

let dirs: string[] = [];
afterEach(() => {
  dirs.forEach(removeDir);
  dirs = [];
});

async function registryError(
  uri: string,
  ref: ModelReference,
  env: NodeJS.ProcessEnv = {},
): Promise<MlbatchError> {
  const registry = openRegistry(uri, { env });
  try {
    const error = await registry.getModelVersion(ref).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(MlbatchError);
    return error as MlbatchError;
  } finally {
    registry.close();
  }
}

describe("an alias that points to a version the store does not hold (expected failures)", () => {
  function pointChampionAt(name: keyof typeof STORES, version: number): string {
    const copy = copyStore(name);
    dirs.push(copy);
    if (name.endsWith("sqlite")) {
      const db = new Sqlite(join(copy, "mlflow.db"));
      db.prepare(
        "UPDATE registered_model_aliases SET version = ? WHERE name = 'bikes' AND alias = 'Champion'",
      ).run(version);
      db.close();
      return `sqlite:///${join(copy, "mlflow.db")}`;
    }
    writeFileSync(join(copy, "mlruns", "models", "bikes", "aliases", "Champion"), `${version}`);
    return join(copy, "mlruns");
  }

  it.each(Object.keys(STORES) as (keyof typeof STORES)[])(
    "given %s with Champion pointing to deleted version 4, when resolved, then the error names the alias, its version, the versions and the aliases",
    async (name) => {
      const error = await registryError(pointChampionAt(name, 4), { name: "bikes", alias: "Champion" });
      expect(error.code).toBe("E_MODEL_NOT_FOUND");
      expect(error.message).toContain(
        'alias "Champion" of model "bikes" points to version 4, which does not exist (deleted); versions: 1, 2, 3; ' +
          "aliases: Challenger -> 1, Champion -> 4, Pickled -> 3. Point the alias at an existing version " +
          '(MlflowClient().set_registered_model_alias("bikes", "Champion", <version>)) or set job.alias_or_version to a version.',
      );
      expect(error.message).not.toContain("undefined");
    },
  );

  it.each(["mlflow3-sqlite", "mlflow2-file"] as const)(
    "given %s with Champion pointing to version 9, never registered, when resolved, then the error says it does not exist",
    async (name) => {
      const error = await registryError(pointChampionAt(name, 9), { name: "bikes", alias: "Champion" });
      expect(error.code).toBe("E_MODEL_NOT_FOUND");
      expect(error.message).toContain(
        'alias "Champion" of model "bikes" points to version 9, which does not exist; versions: 1, 2, 3;',
      );
    },
  );
});
