/**
 * OutputRows: predictions paired row by row with the input columns the outputs carry, written segment by
 * segment as they come, whatever the batch sizes, the chunk sizes of the carried stream, and the filter.
 */
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import type { Batch } from "../../src/data/batch.js";
import type { Database } from "../../src/data/database.js";
import { OutputRows } from "../../src/data/output-rows.js";
import { Source } from "../../src/data/source.js";
import { ParquetWriter } from "../../src/data/writers/parquet-writer.js";
import type { RowSink } from "../../src/data/writers/writer.js";
import { eachTest } from "../helpers.js";

let db: Database;
let dir: string;
eachTest((database, folder) => {
  db = database;
  dir = folder;
});

const ROWS = 300_000;

/**
 * A table of ids with text and integers (nulls in both), dates, decimals, enums, UUIDs, lists and
 * time-zone-aware timestamps: types read as bytes from the chunks (with their validity) and through
 * their vectors.
 */
async function inputs(): Promise<Source> {
  await db.run(
    `CREATE TABLE input AS SELECT range AS id, CASE WHEN range % 11 = 0 THEN NULL ELSE 'r' || range END AS label,
       DATE '2020-01-01' + (range % 365)::INT AS day, (range / 100)::DECIMAL(12, 2) AS amount,
       [range, range % 7] AS pair, TIMESTAMPTZ '2024-01-01 00:00:00+00' + to_seconds(range) AS at,
       (range % 5)::DOUBLE AS x, CASE WHEN range % 13 = 0 THEN NULL ELSE (range * 3)::INTEGER END AS code,
       (['low', 'high'])[range % 2 + 1]::ENUM ('low', 'high') AS level, uuid() AS tag FROM range(${ROWS})`,
  );
  return Source.open(db, { from: "input", label: "input" });
}

/** The model's predictions for a batch of ids: 0.5 * id. */
function predictions(ids: BigInt64Array): Batch {
  const data = Float64Array.from(ids, (id) => Number(id) / 2);
  return { length: ids.length, columns: [{ name: "prediction", type: "float64", data }] };
}

/** Writes the outputs through OutputRows into a Parquet file, the carried columns first. */
async function write(
  source: Source,
  carried: string[],
  batch: number,
  extra: { constant?: { name: string; value: string }; segmentRows?: number } = {},
) {
  const path = join(dir, "out.parquet");
  const sink = await db.fork();
  let segments = 0;
  const staged = await new ParquetWriter({ path }).stageRows(sink, async (parquet) => {
    const counted: RowSink = {
      append: (query) => {
        segments++;
        return parquet.append(query);
      },
    };
    const outputs = [{ name: "prediction", type: "float64" as const }];
    const rows = await OutputRows.create(db, { source, carried, outputs, sink: counted, ...extra });
    try {
      for await (const ids of source.batches([{ name: "id", type: "int64" }], batch, carried))
        await rows.append(predictions(ids.columns[0]!.data as BigInt64Array), ids.carried);
      await rows.finish();
    } finally {
      await rows.close();
    }
  });
  await staged.commit();
  sink.close();
  return { path, segments, rows: staged.rows };
}

describe("OutputRows", () => {
  it("given carried columns of many types and batches that divide nothing, then every output row holds its own input row's values and prediction, in order", async () => {
    const source = await inputs();
    const carried = ["id", "label", "day", "amount", "pair", "at", "code", "level", "tag"];
    const { path, segments, rows } = await write(source, carried, 10_007);
    expect(rows).toBe(ROWS);
    expect(segments).toBe(Math.ceil(ROWS / 122_880));
    const [check] = await db.rows(
      `SELECT count(*)::INT AS n, count_if(o.id <> i.id OR o.label IS DISTINCT FROM i.label OR o.day <> i.day OR o.amount <> i.amount
         OR o.pair <> i.pair OR o.at <> i.at OR o.code IS DISTINCT FROM i.code OR o.level <> i.level OR o.tag <> i.tag
         OR o.prediction <> i.id / 2)::INT AS wrong, count(o.code)::INT AS codes
       FROM read_parquet('${path}') o POSITIONAL JOIN input i`,
    );
    expect(check).toEqual({ n: ROWS, wrong: 0, codes: ROWS - Math.ceil(ROWS / 13) });
    const described = await db.rows(`DESCRIBE SELECT * FROM read_parquet('${path}')`);
    expect(described.map((c) => `${c.column_name} ${c.column_type}`)).toEqual([
      "id BIGINT",
      "label VARCHAR",
      "day DATE",
      "amount DECIMAL(12,2)",
      "pair BIGINT[]",
      "at TIMESTAMP WITH TIME ZONE",
      "code INTEGER",
      "level VARCHAR", // Parquet holds an enum as its text
      "tag UUID",
      "prediction DOUBLE",
    ]);
  });

  it("given a filter (rows dropped), small segments and a constant column, then the carried rows are the filtered ones and the constant comes last", async () => {
    const source = (await inputs()).where("x <> 3");
    const constant = { name: "model_version", value: "models:/m/2" };
    const { path, rows } = await write(source, ["id"], 4_096, { constant, segmentRows: 50_000 });
    expect(rows).toBe(ROWS - ROWS / 5);
    const [check] = await db.rows(
      `SELECT count_if(x = 3)::INT AS kept, count_if(prediction <> id / 2)::INT AS wrong, count(DISTINCT model_version)::INT AS versions,
         any_value(model_version) AS version FROM read_parquet('${path}') JOIN input USING (id)`,
    );
    expect(check).toEqual({ kept: 0, wrong: 0, versions: 1, version: "models:/m/2" });
  });

  it("given no carried columns and no rows, then one empty segment keeps the columns", async () => {
    const source = (await inputs()).where("false");
    const { path, rows, segments } = await write(source, [], 1_000);
    expect([rows, segments]).toEqual([0, 1]);
    expect(
      (await db.rows(`DESCRIBE SELECT * FROM read_parquet('${path}')`)).map((c) => c.column_name),
    ).toEqual(["prediction"]);
  });

  it("given a sink that fails, then finish throws its error and the rows are not written", async () => {
    const source = await inputs();
    const sink: RowSink = { append: () => Promise.reject(new Error("disk full")) };
    const outputs = [{ name: "prediction", type: "float64" as const }];
    const rows = await OutputRows.create(db, { source, carried: ["id"], outputs, sink, segmentRows: 1000 });
    const error = await (async () => {
      for await (const ids of source.batches([{ name: "id", type: "int64" }], 4096, ["id"]))
        await rows.append(predictions(ids.columns[0]!.data as BigInt64Array), ids.carried);
      await rows.finish();
    })().then(
      () => undefined,
      (e: unknown) => e,
    );
    await rows.close();
    expect(String(error)).toContain("disk full");
  });
});
