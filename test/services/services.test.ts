import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { resolveMlflowUris } from "../../src/mlflow/settings.js";
import { AlertsService } from "../../src/services/alerts.js";
import { LoggerService } from "../../src/services/logger.js";
import { Capture, removeDir, tempDir } from "../helpers.js";

let dir: string;
beforeEach(() => {
  dir = tempDir();
});
afterEach(() => removeDir(dir));

describe("LoggerService", () => {
  it("given serialize and a level, when logging, then JSON lines at or above the level are written", async () => {
    const out = new Capture();
    const service = new LoggerService({ level: "WARNING", serialize: true }, out);
    await service.start();
    service.logger.info("hidden");
    service.logger.warn({ step: "read" }, "shown");
    await service.stop();
    expect(out.lines.map((l) => JSON.parse(l))).toEqual([
      expect.objectContaining({ level: 40, step: "read", msg: "shown" }),
    ]);
  });

  it("given serialize false, when logging, then lines are readable, not JSON", async () => {
    const out = new Capture();
    const service = new LoggerService({ serialize: false }, out);
    await service.start();
    service.logger.info("[Inference] Read inputs: x.parquet");
    await service.stop();
    expect(out.text).toContain("INFO: [Inference] Read inputs: x.parquet");
    expect(out.text.trim().startsWith("{")).toBe(false);
  });

  it("given a file sink, when logging, then lines are appended to the file", async () => {
    const path = join(dir, "logs", "job.log");
    const service = new LoggerService({ sink: path, serialize: true });
    await service.start();
    service.logger.info("to the file");
    await service.stop();
    expect(readFileSync(path, "utf8")).toContain('"msg":"to the file"');
  });
});

describe("AlertsService", () => {
  it("given a notification, when enabled, then one line [app] title: message goes to the console", async () => {
    const out = new Capture();
    const alerts = new AlertsService({ app_name: "Bikes" }, out);
    await alerts.start();
    await alerts.notify({ event: "finished", job: "Inference Job", status: "success", shape: [3476, 2] });
    await alerts.stop();
    expect(out.text).toBe("[Bikes] Inference Job Finished: Outputs Shape: (3476, 2)\n");
  });

  it("given enable false, when notified, then nothing is sent", async () => {
    const out = new Capture();
    await new AlertsService({ enable: false }, out).notify({
      event: "finished",
      job: "Inference Job",
      status: "success",
    });
    expect(out.text).toBe("");
  });
});

describe("resolveMlflowUris", () => {
  const cwd = process.cwd();
  afterEach(() => process.chdir(cwd));

  it("given explicit URIs, then they win over the environment", () => {
    expect(
      resolveMlflowUris(
        { tracking_uri: "a", registry_uri: "b" },
        { MLFLOW_TRACKING_URI: "x", MLFLOW_REGISTRY_URI: "y" },
      ),
    ).toEqual({
      trackingUri: "a",
      registryUri: "b",
    });
  });

  it("given only the environment, then MLFLOW_TRACKING_URI and MLFLOW_REGISTRY_URI are used", () => {
    expect(resolveMlflowUris({}, { MLFLOW_TRACKING_URI: "sqlite:///t.db" })).toEqual({
      trackingUri: "sqlite:///t.db",
      registryUri: "sqlite:///t.db",
    });
    expect(resolveMlflowUris({}, { MLFLOW_TRACKING_URI: "t", MLFLOW_REGISTRY_URI: "r" }).registryUri).toBe(
      "r",
    );
  });

  it("given nothing, then sqlite:///mlflow.db when it exists, else ./mlruns (MLflow's defaults)", () => {
    process.chdir(dir);
    expect(resolveMlflowUris({}, {}).registryUri).toBe("./mlruns");
    writeFileSync("mlflow.db", "");
    expect(resolveMlflowUris({}, {}).registryUri).toBe("sqlite:///mlflow.db");
  });
});
