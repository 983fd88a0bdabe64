/** Model files on S3: a version registered by a live `mlflow server` in an s3:// experiment, served by moto's S3 server. */
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from "vitest";
import { REGISTRIES, removeDir, tempDir } from "../helpers.js";
import { failing, maxDifference, messages, mlflowService, stack, succeeding } from "./rest-helpers.js";
import { FaultProxy } from "./rest-proxy.js";

const EXPECTED = join(REGISTRIES, "expected_predictions.parquet");
const OBJECTS = /^\/mlbatch-bikes\/artifacts\/.+/;
const MODEL_FILE = /\/model\.onnx(\?|$)/;

let s3: FaultProxy;
let dir: string;
beforeAll(async () => {
  s3 = await FaultProxy.start(stack().s3Endpoint);
});
afterAll(() => s3.close());
beforeEach(() => {
  s3.reset();
  dir = tempDir("mlbatch-s3-");
  // moto accepts any key; nothing may look for credentials elsewhere (no instance metadata, no profile files).
  const env: Record<string, string | undefined> = {
    AWS_ACCESS_KEY_ID: "mlbatch-test",
    AWS_SECRET_ACCESS_KEY: "mlbatch-test-secret",
    AWS_REGION: "us-east-1",
    MLFLOW_S3_ENDPOINT_URL: s3.uri,
    AWS_ENDPOINT_URL: undefined,
    AWS_ENDPOINT_URL_S3: undefined,
    AWS_EC2_METADATA_DISABLED: "true",
    AWS_PROFILE: undefined,
    AWS_SESSION_TOKEN: undefined,
    AWS_CONFIG_FILE: join(dir, "no-aws-config"),
    AWS_SHARED_CREDENTIALS_FILE: join(dir, "no-aws-credentials"),
  };
  for (const [name, value] of Object.entries(env)) vi.stubEnv(name, value);
});
afterEach(() => {
  vi.unstubAllEnvs();
  removeDir(dir);
});

function job(n: number, cacheDir?: string) {
  return {
    mlflow_service: mlflowService(stack().uri, { name: "bikes_s3", cacheDir }),
    outputs: join(dir, `predictions-${n}.parquet`),
  };
}

describe("a version whose files are on S3", () => {
  it("given MLFLOW_S3_ENDPOINT_URL and AWS keys, when run twice, then the files come from S3, then from the cache", async () => {
    const cacheDir = join(dir, "cache");
    const first = await succeeding(job(1, cacheDir));
    expect(first.locals.modelVersion.artifactUri).toMatch(
      /^s3:\/\/mlbatch-bikes\/artifacts\/[0-9a-f]{32}\/artifacts\/model$/,
    );
    expect(s3.count(MODEL_FILE)).toBe(1);
    expect(await maxDifference(first.locals.outputs.path, EXPECTED, "bikes_v2")).toBeLessThan(1e-4);
    s3.reset();
    const second = await succeeding(job(2, cacheDir));
    expect(messages(second)).toContainEqual(expect.stringMatching(/Cache hit: models:\/bikes_s3\/1/));
    expect(s3.seen).toEqual([]);
  });

  it("given the SDK's own AWS_ENDPOINT_URL_S3 instead, when run, then it is used too (path-style)", async () => {
    vi.stubEnv("MLFLOW_S3_ENDPOINT_URL", undefined);
    vi.stubEnv("AWS_ENDPOINT_URL_S3", s3.uri);
    await succeeding(job(1));
    expect(s3.count(OBJECTS)).toBeGreaterThan(0);
  });

  it("given a 503 from S3 and a body cut short, when run, then the SDK and mlbatch retry and it succeeds", async () => {
    s3.inject({
      match: /list-type=2/,
      fault: { kind: "status", status: 503, body: "<Error><Code>SlowDown</Code></Error>" },
      times: 1,
    });
    s3.inject({ match: MODEL_FILE, fault: { kind: "truncate" }, times: 1 });
    const run = await succeeding(job(1));
    expect(s3.count(/list-type=2/)).toBe(2);
    expect(s3.count(MODEL_FILE)).toBe(2);
    expect(messages(run)).toContainEqual(expect.stringContaining("model.onnx failed (truncated download: "));
    expect(await maxDifference(run.locals.outputs.path, EXPECTED, "bikes_v2")).toBeLessThan(1e-4);
  });

  it("given no AWS credentials, when run, then E_AUTH says which variables to set (expected failure)", async () => {
    vi.stubEnv("AWS_ACCESS_KEY_ID", undefined);
    vi.stubEnv("AWS_SECRET_ACCESS_KEY", undefined);
    const run = await failing(job(1));
    expect(run.error.code).toBe("E_AUTH");
    expect(run.error.message).toMatch(
      /^cannot read model files at s3:\/\/mlbatch-bikes\/.+: no AWS credentials/,
    );
    expect(run.error.message).toContain("AWS_ACCESS_KEY_ID");
    expect(s3.seen).toEqual([]);
  });
});
