import { existsSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { MlbatchError } from "../../src/errors.js";
import { openRegistry } from "../../src/registry/index.js";
import type { ModelReference } from "../../src/registry/model-uri.js";
import { copyStore, removeDir, STORES, tempDir } from "../helpers.js";

async function notFound(uri: string, ref: ModelReference): Promise<string> {
  const registry = openRegistry(uri);
  try {
    const error = await registry.getModelVersion(ref).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(MlbatchError);
    expect((error as MlbatchError).code).toBe("E_MODEL_NOT_FOUND");
    return (error as MlbatchError).message;
  } finally {
    registry.close();
  }
}

describe.each(Object.entries(STORES))("the %s fixture store", (_, uri) => {
  it("given an alias, when resolved, then it gives the version it points to and the model files", async () => {
    const registry = openRegistry(uri);
    try {
      const version = await registry.getModelVersion({ name: "bikes", alias: "Champion" });
      expect(version).toMatchObject({ name: "bikes", version: 2, alias: "Champion", status: "READY" });
      expect(version.aliases).toContain("Champion");
      expect(version.runId).toMatch(/^[0-9a-f]{32}$/);
      // The store was built in a temporary folder that no longer exists: files are found relative to the store.
      const directory = await registry.modelDirectory(version);
      expect(existsSync(join(directory, "MLmodel"))).toBe(true);
      expect(existsSync(join(directory, "model.onnx"))).toBe(true);
    } finally {
      registry.close();
    }
  });

  it("given a version number, when resolved, then it gives that version", async () => {
    const registry = openRegistry(uri);
    try {
      const version = await registry.getModelVersion({ name: "bikes", version: 1 });
      expect(version).toMatchObject({ version: 1, alias: undefined });
      expect(version.aliases).toEqual(["Challenger"]);
      expect(existsSync(join(await registry.modelDirectory(version), "MLmodel"))).toBe(true);
    } finally {
      registry.close();
    }
  });

  it("given an unknown alias, when resolved, then the error lists the aliases that exist", async () => {
    const message = await notFound(uri, { name: "bikes", alias: "NoSuchAlias" });
    expect(message).toContain(
      'alias "NoSuchAlias" not found for model "bikes"; aliases: Challenger -> 1, Champion -> 2, Pickled -> 3',
    );
  });

  it("given an unknown or deleted version, when resolved, then the error lists the live versions", async () => {
    expect(await notFound(uri, { name: "bikes", version: 99 })).toContain("versions: 1, 2, 3.");
    expect(await notFound(uri, { name: "bikes", version: 4 })).toContain("version 4 not found");
  });

  it("given an unknown model, when resolved, then the error lists the registered models", async () => {
    expect(await notFound(uri, { name: "bicycles", alias: "Champion" })).toContain(
      "models: bikes, bikes_tensor",
    );
  });
});

describe("a store copied to another folder", () => {
  const copies: string[] = [];
  afterAll(() => copies.forEach(removeDir));

  it.each(["mlflow2-sqlite", "mlflow3-file"] as const)(
    "given a copy of %s, when resolved, then its files are found in the copy",
    async (name) => {
      const copy = copyStore(name);
      copies.push(copy);
      const uri = name.endsWith("sqlite") ? `sqlite:///${join(copy, "mlflow.db")}` : join(copy, "mlruns");
      const registry = openRegistry(uri);
      try {
        const directory = await registry.modelDirectory(
          await registry.getModelVersion({ name: "bikes", alias: "Champion" }),
        );
        expect(directory.startsWith(copy)).toBe(true);
      } finally {
        registry.close();
      }
    },
  );
});

describe("openRegistry", () => {
  function registryError(uri: string): MlbatchError {
    try {
      openRegistry(uri).close();
    } catch (error) {
      expect(error).toBeInstanceOf(MlbatchError);
      return error as MlbatchError;
    }
    throw new Error("expected a failure");
  }

  it("given a SQLite file that does not exist, when opened, then E_REGISTRY says the registry is unreachable", () => {
    const error = registryError("sqlite:///no/such/mlflow.db");
    expect(error.code).toBe("E_REGISTRY");
    expect(error.message).toContain("registry sqlite:///no/such/mlflow.db is unreachable");
    expect(error.message).toContain("MLFLOW_TRACKING_URI");
  });

  it("given a file that is not an MLflow database, when opened, then E_REGISTRY says so", () => {
    const dir = tempDir();
    try {
      writeFileSync(
        join(dir, "mlflow.db"),
        "not sqlite at all, just text that is long enough to not be a header",
      );
      const error = registryError(`sqlite:///${join(dir, "mlflow.db")}`);
      expect(error.code).toBe("E_REGISTRY");
      expect(error.message).toContain("is not a readable MLflow database");
    } finally {
      removeDir(dir);
    }
  });

  it("given an mlruns folder that does not exist, when opened, then E_REGISTRY names it", () => {
    const error = registryError("./no-such-mlruns");
    expect(error.code).toBe("E_REGISTRY");
    expect(error.message).toContain('folder "');
  });

  it("given a URI scheme mlbatch cannot read, when opened, then E_CONFIG names it", () => {
    const error = registryError("databricks://profile");
    expect(error.code).toBe("E_CONFIG");
    expect(error.message).toContain('"databricks:" registries are not supported');
  });
});
