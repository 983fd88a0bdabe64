/** Faults injected by a proxy on 127.0.0.1 between the REST registry and a live `mlflow server`. */
import { statSync } from "node:fs";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { REGISTRIES, removeDir, tempDir } from "../helpers.js";
import {
  FAST_HTTP,
  failing,
  maxDifference,
  mlflow2ModelDir,
  mlflowService,
  stack,
  succeeding,
} from "./rest-helpers.js";
import { FaultProxy } from "./rest-proxy.js";

const EXPECTED = join(REGISTRIES, "expected_predictions.parquet");
const ALIAS = /\/registered-models\/alias\?/;
const DOWNLOAD_URI = /\/model-versions\/get-download-uri\?/;
const MODEL_FILE = /\/mlflow-artifacts\/artifacts\/.+\/model\.onnx$/;
/** bikes_mlflow2 version 2's model.onnx, in bytes (the MLflow 2 fixture store's). */
const ONNX_SIZE = statSync(join(mlflow2ModelDir(2), "model.onnx")).size;

let proxy: FaultProxy;
let dir: string;
beforeAll(async () => {
  proxy = await FaultProxy.start(stack().uri);
});
afterAll(() => proxy.close());
beforeEach(() => {
  proxy.reset();
  dir = tempDir("mlbatch-faults-");
});
afterEach(() => removeDir(dir));

function job(http: Record<string, number> = FAST_HTTP) {
  return {
    mlflow_service: mlflowService(proxy.uri, { name: "bikes_mlflow2", http }),
    outputs: join(dir, "predictions.parquet"),
  };
}

function retries(run: { lines: readonly { level: number; msg: string }[] }): string[] {
  return run.lines.filter((l) => l.level === 40 && l.msg.includes("; retry ")).map((l) => l.msg);
}

describe("transient faults, then success", () => {
  it("given two 503 answers then the real one, when run, then it succeeds after two retries", async () => {
    proxy.inject({
      match: ALIAS,
      fault: { kind: "status", status: 503, body: "upstream restarting" },
      times: 2,
    });
    const run = await succeeding(job());
    expect(proxy.count(ALIAS)).toBe(3);
    expect(retries(run)).toEqual([
      expect.stringMatching(
        /registered-models\/alias.* failed \(HTTP 503: upstream restarting\); retry 1\/3 in 0\.0 s$/,
      ),
      expect.stringMatching(/retry 2\/3 in 0\.\d s$/),
    ]);
    expect(await maxDifference(run.locals.outputs.path, EXPECTED, "bikes_v2")).toBeLessThan(1e-4);
  });

  it("given a 429 with Retry-After, when run, then the retry waits as long as the server asks", async () => {
    proxy.inject({
      match: DOWNLOAD_URI,
      fault: { kind: "status", status: 429, headers: { "retry-after": "1" } },
      times: 1,
    });
    const run = await succeeding(job());
    expect(retries(run)).toEqual([
      expect.stringMatching(/failed \(HTTP 429: injected 429\); retry 1\/3 in 1\.0 s$/),
    ]);
  });

  it("given a connection reset on a model file, when run, then the file is downloaded again", async () => {
    proxy.inject({ match: MODEL_FILE, fault: { kind: "reset" }, times: 1 });
    const run = await succeeding(job());
    expect(proxy.count(MODEL_FILE)).toBe(2);
    expect(retries(run)).toEqual([
      expect.stringMatching(/model\.onnx failed \(connection reset \(ECONNRESET\)\); retry 1\/3/),
    ]);
    expect(await maxDifference(run.locals.outputs.path, EXPECTED, "bikes_v2")).toBeLessThan(1e-4);
  });

  it("given a server that hangs past the timeout once, when run, then the request is abandoned and retried", async () => {
    proxy.inject({ match: DOWNLOAD_URI, fault: { kind: "hang" }, times: 1 });
    const run = await succeeding(job({ ...FAST_HTTP, timeout: 1 }));
    expect(proxy.count(DOWNLOAD_URI)).toBe(2);
    expect(retries(run)).toEqual([
      expect.stringContaining("failed (timeout: no answer within 1 s); retry 1/3"),
    ]);
  });

  it("given a body that stops in the middle past the timeout once, when run, then the file is downloaded again", async () => {
    proxy.inject({ match: MODEL_FILE, fault: { kind: "stall" }, times: 1 });
    const run = await succeeding(job({ ...FAST_HTTP, timeout: 1 }));
    expect(proxy.count(MODEL_FILE)).toBe(2);
    expect(retries(run)).toEqual([
      expect.stringMatching(
        /model\.onnx failed \(truncated download: timeout: no answer within 1 s, received \d+ of \d+ bytes\)/,
      ),
    ]);
    expect(await maxDifference(run.locals.outputs.path, EXPECTED, "bikes_v2")).toBeLessThan(1e-4);
  });

  it("given a body cut in the middle once, when run, then the truncated file is downloaded again", async () => {
    proxy.inject({ match: MODEL_FILE, fault: { kind: "truncate" }, times: 1 });
    const run = await succeeding(job());
    expect(retries(run)).toEqual([expect.stringContaining("failed (truncated download: ")]);
    expect(await maxDifference(run.locals.outputs.path, EXPECTED, "bikes_v2")).toBeLessThan(1e-4);
  });
});

describe("faults that last (expected failures)", () => {
  it("given a server that always hangs, when run, then E_REGISTRY says it timed out after every retry", async () => {
    proxy.inject({ match: ALIAS, fault: { kind: "hang" } });
    const run = await failing(job({ ...FAST_HTTP, timeout: 1, max_retries: 1 }));
    expect(run.error.code).toBe("E_REGISTRY");
    expect(run.error.message).toContain(
      `MLflow tracking server ${proxy.uri} is unreachable: timeout: no answer within 1 s`,
    );
    expect(run.error.message).toContain("2 tries");
    expect(proxy.count(ALIAS)).toBe(2);
  });

  it("given a body that always comes truncated, when run, then E_REGISTRY says so with the sizes", async () => {
    proxy.inject({ match: MODEL_FILE, fault: { kind: "truncate" } });
    const run = await failing(job({ ...FAST_HTTP, max_retries: 2 }));
    expect(run.error.code).toBe("E_REGISTRY");
    expect(run.error.message).toMatch(
      new RegExp(`model\\.onnx: truncated download: .*received \\d+ of ${ONNX_SIZE} bytes \\(3 tries`),
    );
    expect(proxy.count(MODEL_FILE)).toBe(3);
  });

  it("given 503 on every try, when run, then E_REGISTRY says the server kept failing, after max_retries", async () => {
    proxy.inject({ match: ALIAS, fault: { kind: "status", status: 503 } });
    const run = await failing(job({ ...FAST_HTTP, max_retries: 2 }));
    expect(run.error.message).toContain(
      `MLflow tracking server ${proxy.uri} kept failing: HTTP 503: injected 503`,
    );
    expect(run.error.message).toContain("mlflow_service.http.max_retries");
    expect(proxy.count(ALIAS)).toBe(3);
  });

  it("given a 500 on a file, when run, then it fails at once without retrying (MLflow's final answer)", async () => {
    proxy.inject({
      match: MODEL_FILE,
      fault: { kind: "status", status: 500, body: '{"error_code": "INTERNAL_ERROR", "message": "boom"}' },
    });
    const run = await failing(job());
    expect(run.error.code).toBe("E_REGISTRY");
    expect(run.error.message).toMatch(/model\.onnx failed: HTTP 500: INTERNAL_ERROR: boom\.$/);
    expect(proxy.count(MODEL_FILE)).toBe(1);
    expect(retries(run)).toEqual([]);
  });

  it("given a Host header the server does not allow, when run, then E_REGISTRY names --allowed-hosts", async () => {
    const renamed = await FaultProxy.start(stack().uri, { host: "mlflow.example.com" });
    try {
      const run = await failing({
        mlflow_service: mlflowService(renamed.uri),
        outputs: join(dir, "predictions.parquet"),
      });
      expect(run.error.code).toBe("E_REGISTRY");
      expect(run.error.message).toContain("Invalid Host header");
      expect(run.error.message).toContain("--allowed-hosts");
      expect(renamed.seen).toHaveLength(1);
    } finally {
      await renamed.close();
    }
  });
});
