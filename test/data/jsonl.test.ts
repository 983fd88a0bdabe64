import { appendFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, inject, it } from "vitest";
import type { Database } from "../../src/data/database.js";
import { JsonLinesReader } from "../../src/data/readers/json-lines-reader.js";
import type { Source } from "../../src/data/source.js";
import { JsonLinesWriter } from "../../src/data/writers/json-lines-writer.js";
import { MlbatchError } from "../../src/errors.js";
import { BIKES, eachTest, INPUTS_TEST, python } from "../helpers.js";

let db: Database;
let dir: string;
eachTest((database, folder) => {
  db = database;
  dir = folder;
});

async function rows(source: Source): Promise<Record<string, unknown>[]> {
  return db.rows(`SELECT * FROM ${source.query()}`);
}

describe("JsonLinesReader", () => {
  it("given the bikes JSON Lines (gzip), when opened, then values equal the Parquet inputs", async () => {
    const source = await new JsonLinesReader({
      path: join(BIKES, "data", "inputs_test.jsonl.gz"),
      types: { dteday: "VARCHAR" },
    }).open(db);
    expect(source.typeOf("hr")).toBe("BIGINT");
    expect(source.typeOf("dteday")).toBe("VARCHAR");
    expect(source.idColumns).toEqual([]);
    const [diff] = await db.rows(
      `SELECT count(*)::INT AS n, count_if(j.instant <> p.instant OR j.dteday <> p.dteday OR j.temp <> p.temp OR j.hum <> p.hum)::INT AS different
       FROM ${source.query()} j POSITIONAL JOIN '${INPUTS_TEST}' p`,
    );
    expect(diff).toEqual({ n: 3476, different: 0 });
  });

  it("given pandas' to_json(lines=True) with nulls and missing keys, when read, then values equal pandas'", async () => {
    const path = join(dir, "pandas.jsonl");
    python(
      inject("python"),
      `import sys, pandas as pd, numpy as np
df = pd.DataFrame({"id": [1, 2, 3], "x": [0.5, np.nan, 2.25], "s": ["a", None, "c"]})
df.to_json(sys.argv[1], orient="records", lines=True)`,
      [path],
    );
    appendFileSync(path, '{"id": 4}\n'); // a record without the other keys
    const source = await new JsonLinesReader({ path }).open(db);
    expect(await rows(source)).toEqual([
      { id: 1n, x: 0.5, s: "a" },
      { id: 2n, x: null, s: null },
      { id: 3n, x: 2.25, s: "c" },
      { id: 4n, x: null, s: null },
    ]);
  });

  it("given explicit types, when read, then they apply and a value of the wrong type fails with E_READ", async () => {
    const path = join(dir, "t.jsonl");
    writeFileSync(path, '{"id": 1, "code": "007"}\n{"id": 2, "code": "x"}\n');
    const source = await new JsonLinesReader({ path, types: { id: "DOUBLE" } }).open(db);
    expect(source.columns).toEqual([
      { name: "id", type: "DOUBLE" },
      { name: "code", type: "VARCHAR" },
    ]);
    const strict = await new JsonLinesReader({ path, types: { code: "BIGINT" } }).open(db);
    const error = await rows(strict).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(Error);
    const unknown = await new JsonLinesReader({ path, types: { nope: "BIGINT" } })
      .open(db)
      .catch((e: unknown) => e);
    expect(unknown).toBeInstanceOf(MlbatchError);
    expect(unknown).toMatchObject({ code: "E_READ", message: expect.stringContaining('"nope"') });
  });

  it("given a file that is not JSON Lines, when opened, then E_READ", async () => {
    const path = join(dir, "x.jsonl");
    writeFileSync(path, "a,b\n1,2\n");
    await expect(new JsonLinesReader({ path }).open(db)).rejects.toMatchObject({ code: "E_READ" });
  });
});

describe("JsonLinesWriter", () => {
  it("given ids, float32 predictions, text and nulls, when written, then pandas reads the same values and DuckDB the same float32s", async () => {
    const path = join(dir, "out", "predictions.jsonl");
    const written = await new JsonLinesWriter({ path }).write(
      db,
      `(SELECT range AS id, (range / 3)::FLOAT AS prediction, CASE WHEN range % 2 = 0 THEN 'even "q"' END AS note FROM range(1000))`,
    );
    expect(written).toBe(1000);
    const out = python(
      inject("python"),
      `import sys, json, pandas as pd, numpy as np
df = pd.read_json(sys.argv[1], lines=True)
ok = bool((df.prediction.astype("float32") == (np.arange(1000) / 3).astype("float32")).all())
print(json.dumps({"rows": len(df), "ids": int(df.id.sum()), "ok": ok, "notes": df.note.head(2).tolist()}))`,
      [path],
    );
    expect(JSON.parse(out)).toEqual({ rows: 1000, ids: 499500, ok: true, notes: ['even "q"', null] });
    const back = await new JsonLinesReader({ path }).open(db);
    const [same] = await db.rows(
      `SELECT count_if(prediction::FLOAT = (id / 3)::FLOAT)::INT AS same FROM ${back.query()}`,
    );
    expect(same).toEqual({ same: 1000 });
  });
});
