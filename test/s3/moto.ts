/**
 * A real S3 API server for the object store tests: moto's server (pinned in
 * test/fixtures/server/requirements.txt, installed into .venv-mlflow by .ci/run and the MLflow test
 * setup), started per test file on a free port of 127.0.0.1, with a bucket. Any access key works, so the
 * wrong-credential test uses moto's IAM mode (`INITIAL_NO_AUTH_ACTION_COUNT`): requests are then checked.
 */
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { createServer } from "node:net";
import { resolve } from "node:path";
import { ObjectStore } from "../../src/data/object-store/object-store.js";
import { objectStoreSettings } from "../../src/data/object-store/settings.js";

/** The environment a process needs to use the server (AWS's standard variables). */
export type S3Env = Record<string, string>;

export interface Moto {
  readonly endpoint: string;
  readonly env: S3Env;
  /** A client of the server (the tests' own, for setting up and reading back). */
  readonly store: ObjectStore;
  stop(): Promise<void>;
}

/** The Python that has moto: `MLBATCH_TEST_MLFLOW_PYTHON`, else `.venv-mlflow/bin/python`. */
export function motoPython(): string {
  const python = process.env.MLBATCH_TEST_MLFLOW_PYTHON ?? resolve(".venv-mlflow", "bin", "python");
  if (!existsSync(python)) {
    throw new Error(
      `no Python with moto at ${python}: run .ci/run, or create .venv-mlflow from test/fixtures/server/requirements.txt`,
    );
  }
  execFileSync(python, ["-c", "import moto.server"], { stdio: "ignore" });
  return python;
}

async function freePort(): Promise<number> {
  return new Promise((done, fail) => {
    const server = createServer();
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      const port = typeof address === "object" && address !== null ? address.port : 0;
      server.close(() => done(port));
    });
    server.on("error", fail);
  });
}

/** Starts moto on 127.0.0.1 and creates `buckets`. */
export async function startMoto(
  buckets: readonly string[] = ["data"],
  variables: Record<string, string> = {},
): Promise<Moto> {
  const port = await freePort();
  const endpoint = `http://127.0.0.1:${port}`;
  const child: ChildProcess = spawn(
    motoPython(),
    ["-m", "moto.server", "-H", "127.0.0.1", "-p", String(port)],
    {
      stdio: "ignore",
      env: { ...process.env, ...variables },
    },
  );
  const deadline = Date.now() + 30_000;
  for (;;) {
    const up = await fetch(`${endpoint}/moto-api/`).then(
      (r) => r.ok,
      () => false,
    );
    if (up) break;
    if (Date.now() > deadline || child.exitCode !== null) {
      child.kill("SIGKILL");
      throw new Error(`moto did not start on ${endpoint}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  const env: S3Env = {
    AWS_ENDPOINT_URL: endpoint,
    AWS_ACCESS_KEY_ID: "testing",
    AWS_SECRET_ACCESS_KEY: "testing",
    AWS_REGION: "us-east-1",
    AWS_MAX_ATTEMPTS: "4",
  };
  const store = new ObjectStore(objectStoreSettings(env));
  const { S3Client, CreateBucketCommand } = await import("@aws-sdk/client-s3");
  const client = new S3Client({
    endpoint,
    region: "us-east-1",
    forcePathStyle: true,
    credentials: { accessKeyId: "testing", secretAccessKey: "testing" },
  });
  for (const bucket of buckets) await client.send(new CreateBucketCommand({ Bucket: bucket }));
  client.destroy();
  return {
    endpoint,
    env,
    store,
    stop: async () => {
      await store.close();
      child.kill("SIGTERM");
      await new Promise((r) => child.once("exit", r).once("error", r));
    },
  };
}

/** Sets the variables in this process (the in-process tests), returning a function that restores them. */
export function useEnv(env: Record<string, string | undefined>): () => void {
  const before = Object.fromEntries(Object.keys(env).map((k) => [k, process.env[k]]));
  for (const [k, v] of Object.entries(env)) {
    if (v === undefined) delete process.env[k];
    else process.env[k] = v;
  }
  return () => {
    for (const [k, v] of Object.entries(before)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  };
}
