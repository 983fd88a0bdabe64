/**
 * Object store faults, through a fault-injecting proxy on 127.0.0.1 in front of a real S3 API server
 * (moto): a 503 storm, a connection reset in the middle of a multipart upload, a stalled read, a wrong
 * credential. Each ends in success after retries, or in a clear error naming the URI with nothing
 * half-written: a single-file output is whole or absent, a multipart upload is aborted.
 */
import { join } from "node:path";
import { ListMultipartUploadsCommand, S3Client } from "@aws-sdk/client-s3";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { Database } from "../../src/data/database.js";
import { ParquetReader } from "../../src/data/readers/parquet-reader.js";
import { ParquetWriter } from "../../src/data/writers/parquet-writer.js";
import { BIKES, failure, query, removeDir, tempDir } from "../helpers.js";
import { FaultProxy } from "../registry/rest-proxy.js";
import { type Moto, startMoto, useEnv } from "./moto.js";

const INPUT = join(BIKES, "data", "inputs_test.parquet");
/** About 24 MB of Parquet: a multipart upload of two parts of 16 MiB. */
const BIG = "(SELECT i, random() AS x, random() AS y, random() AS z FROM range(1000000) t(i))";

/** What S3 answers a client it throttles. */
const SLOW_DOWN =
  '<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message></Error>';

let moto: Moto;
let proxy: FaultProxy;
let dir: string;
let restore: () => void;

async function withDb<T>(work: (db: Database) => Promise<T>): Promise<T> {
  const db = await Database.create();
  try {
    return await work(db);
  } finally {
    db.close();
  }
}

async function pendingUploads(): Promise<number> {
  const client = new S3Client({
    endpoint: moto.endpoint,
    region: "us-east-1",
    forcePathStyle: true,
    credentials: { accessKeyId: "testing", secretAccessKey: "testing" },
  });
  try {
    return (await client.send(new ListMultipartUploadsCommand({ Bucket: "data" }))).Uploads?.length ?? 0;
  } finally {
    client.destroy();
  }
}

beforeAll(async () => {
  moto = await startMoto(["data"]);
  dir = tempDir("mlbatch-s3-faults-");
  restore = useEnv(moto.env);
  await moto.store.putFile("s3://data/in/inputs_test.parquet", INPUT);
  proxy = await FaultProxy.start(moto.endpoint);
  // Every request of the code under test goes through the proxy; a short timeout for the stalled read.
  useEnv({ AWS_ENDPOINT_URL: proxy.uri, MLBATCH_S3_TIMEOUT: "2", AWS_MAX_ATTEMPTS: "4" });
}, 120_000);

beforeEach(() => proxy.reset());

afterAll(async () => {
  restore?.();
  await proxy?.close();
  await moto?.stop();
  removeDir(dir);
});

describe("object store faults", () => {
  it("given a 503 storm shorter than the retries, when an output is written, then it is whole after retries", async () => {
    proxy.inject({
      match: /^\/data\/out\/storm\.parquet/,
      fault: { kind: "status", status: 503, headers: { "content-type": "application/xml" }, body: SLOW_DOWN },
      times: 3,
    });
    const rows = await withDb((db) =>
      new ParquetWriter({ path: "s3://data/out/storm.parquet" }).write(db, `(SELECT * FROM '${INPUT}')`),
    );
    expect(rows).toBe(3476);
    expect(proxy.count(/^\/data\/out\/storm\.parquet/)).toBeGreaterThanOrEqual(4);
    const file = join(dir, "storm.parquet");
    await moto.store.download("s3://data/out/storm.parquet", file);
    expect(await query(`SELECT count(*)::INT AS n FROM '${file}'`)).toEqual([{ n: 3476 }]);
  });

  it("given a 503 storm longer than the retries, when an output is written, then E_WRITE names the URI and nothing is there", async () => {
    proxy.inject({
      match: /^\/data\/out\/down\.parquet\?x-id=PutObject/,
      fault: { kind: "status", status: 503, headers: { "content-type": "application/xml" }, body: SLOW_DOWN },
    });
    const error = await failure(
      withDb((db) =>
        new ParquetWriter({ path: "s3://data/out/down.parquet" }).write(db, `(SELECT * FROM '${INPUT}')`),
      ),
    );
    expect(error.code).toBe("E_WRITE");
    expect(error.message).toContain('"s3://data/out/down.parquet"');
    expect(error.message, error.message).toMatch(
      /SlowDown \(HTTP 503\).*after 4 tries.*nothing was written/is,
    );
    expect(await moto.store.head("s3://data/out/down.parquet")).toBeUndefined();
  });

  it("given a connection reset in the middle of a multipart upload, when retried, then the object is whole", async () => {
    proxy.inject({ match: /partNumber=2/, fault: { kind: "reset" }, times: 1 });
    const rows = await withDb((db) =>
      new ParquetWriter({ path: "s3://data/out/big.parquet" }).write(db, BIG),
    );
    expect(rows).toBe(1_000_000);
    expect(proxy.count(/partNumber=2/)).toBe(2);
    const object = await moto.store.head("s3://data/out/big.parquet");
    expect(object?.etag).toMatch(/-2$/); // a multipart object of 2 parts
    expect(await pendingUploads()).toBe(0);
  });

  it("given resets on every try of a part, when the upload fails, then it is aborted: no object, no pending upload, E_WRITE", async () => {
    proxy.inject({ match: /partNumber=2/, fault: { kind: "reset" } });
    const error = await failure(
      withDb((db) => new ParquetWriter({ path: "s3://data/out/broken.parquet" }).write(db, BIG)),
    );
    expect(error.code).toBe("E_WRITE");
    expect(error.message).toContain('"s3://data/out/broken.parquet"');
    expect(await moto.store.head("s3://data/out/broken.parquet")).toBeUndefined();
    expect(await pendingUploads()).toBe(0);
  });

  it("given a read that stalls mid-body, when the input is downloaded whole, then it is read again and whole", async () => {
    proxy.inject({
      match: /^\/data\/in\/inputs_test\.parquet\?x-id=GetObject/,
      fault: { kind: "stall" },
      times: 1,
    });
    const started = Date.now();
    const rows = await withDb(async (db) => {
      const reader = new ParquetReader({ path: "s3://data/in/inputs_test.parquet" });
      const source = await reader.open(db, { wholeFiles: true });
      const [count] = await db.rows(`SELECT count(*)::INT AS n FROM ${source.query()}`);
      return count?.n;
    });
    expect(rows).toBe(3476);
    expect(proxy.count(/GetObject/)).toBe(2);
    expect(Date.now() - started).toBeGreaterThan(1500); // the stall was waited out (MLBATCH_S3_TIMEOUT=2)
  });

  it("given a wrong credential, when inputs are read and outputs written, then E_AUTH names the URI and nothing is written", async () => {
    // moto checks credentials in its IAM mode: a second server, with only the bucket's creation let through unchecked.
    const strict = await startMoto(["data"], { INITIAL_NO_AUTH_ACTION_COUNT: "1" });
    const back = useEnv({
      AWS_ENDPOINT_URL: strict.endpoint,
      AWS_ACCESS_KEY_ID: "AKIAWRONGKEY00000000",
      AWS_SECRET_ACCESS_KEY: "wrong-secret",
    });
    try {
      const read = await failure(
        withDb((db) => new ParquetReader({ path: "s3://data/in/x.parquet" }).open(db)),
      );
      expect(read.code, read.message).toBe("E_AUTH");
      expect(read.message).toContain('"s3://data/in/x.parquet"');
      expect(read.message).not.toContain("wrong-secret");
      const write = await failure(
        withDb((db) => new ParquetWriter({ path: "s3://data/out/x.parquet" }).write(db, `(SELECT 1 AS x)`)),
      );
      expect(write.code).toBe("E_AUTH");
      expect(write.message).toMatch(/cannot write "s3:\/\/data\/out\/x\.parquet".*refused the credentials/);
    } finally {
      back();
      await strict.stop();
    }
  });
});
