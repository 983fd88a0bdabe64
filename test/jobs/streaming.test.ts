import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { INPUTS_TEST, inferenceJob, query, REGISTRIES, removeDir, STORES, tempDir } from "../helpers.js";

const EXPECTED = join(REGISTRIES, "expected_predictions.parquet");
const COPIES = 100; // 347,600 rows: more than DuckDB's appender flushes at once, and many batches

let dir: string;
let input: string;
beforeAll(async () => {
  dir = tempDir();
  input = join(dir, "big.parquet");
  await query(
    `COPY (SELECT t.* FROM range(${COPIES}) r, LATERAL (SELECT * FROM '${INPUTS_TEST}') t ORDER BY r.range) TO '${input}'
     (FORMAT parquet, ROW_GROUP_SIZE 50000, KV_METADATA {pandas: '{"index_columns": ["instant"]}'})`,
  );
});
afterAll(() => removeDir(dir));

describe("streaming", () => {
  it("given inputs of many batches and a batch size that does not divide them, when run, then every row is predicted once, in order", async () => {
    const output = join(dir, "out.parquet");
    const { job } = inferenceJob({
      inputs: { KIND: "ParquetReader", path: input },
      outputs: { KIND: "ParquetWriter", path: output },
      mlflow_service: { registry_uri: STORES["mlflow3-sqlite"] },
      batch_size: 10_007,
    });
    const locals = await job.execute();
    expect(locals.shape).toEqual([3476 * COPIES, 2]);
    // Row i of the output is row (i mod 3476) of the expected predictions.
    const [check] = await query(
      `WITH o AS (SELECT row_number() OVER () - 1 AS i, * FROM '${output}'),
            e AS (SELECT row_number() OVER () - 1 AS j, * FROM '${EXPECTED}')
       SELECT count(*)::INT AS n, count(o.prediction)::INT AS predicted,
              (count(*) FILTER (WHERE o.instant <> e.instant OR abs(o.prediction - e.bikes_v2) > 1e-4))::INT AS wrong
       FROM o JOIN e ON e.j = o.i % 3476`,
    );
    expect(check).toEqual({ n: 3476 * COPIES, predicted: 3476 * COPIES, wrong: 0 });
  });
});
