import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, inject, it } from "vitest";
import type { Database } from "../../src/data/database.js";
import { CsvReader } from "../../src/data/readers/csv-reader.js";
import type { Source } from "../../src/data/source.js";
import { CsvWriter } from "../../src/data/writers/csv-writer.js";
import { BIKES, eachTest, failure, INPUTS_TEST, python } from "../helpers.js";

const INPUTS_CSV = join(BIKES, "data", "inputs_test.csv");

let db: Database;
let dir: string;
eachTest((database, folder) => {
  db = database;
  dir = folder;
});

/** Every row of a source, through SQL (small test tables only). */
async function rows(source: Source): Promise<Record<string, unknown>[]> {
  return db.rows(`SELECT * FROM ${source.query()}`);
}

function file(name: string, text: string): string {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
}

describe("CsvReader", () => {
  it("given the bikes CSV (hour.csv columns), when opened, then types are detected and values equal the Parquet inputs", async () => {
    const source = await new CsvReader({ path: INPUTS_CSV }).open(db);
    expect(source.columns.map((c) => c.name)).toEqual([
      "instant",
      "dteday",
      "season",
      "yr",
      "mnth",
      "hr",
      "holiday",
      "weekday",
      "workingday",
      "weathersit",
      "temp",
      "atemp",
      "hum",
      "windspeed",
      "casual",
      "registered",
      "cnt",
    ]);
    expect(source.typeOf("hr")).toBe("BIGINT");
    expect(source.typeOf("temp")).toBe("DOUBLE");
    expect(source.idColumns).toEqual([]);
    const [diff] = await db.rows(
      `SELECT count(*)::INT AS n, count_if(c.instant <> p.instant OR c.hr <> p.hr OR c.temp <> p.temp OR c.windspeed <> p.windspeed)::INT AS different
       FROM ${source.query()} c POSITIONAL JOIN '${INPUTS_TEST}' p`,
    );
    expect(diff).toEqual({ n: 3476, different: 0 });
  });

  it("given quoted delimiters, doubled quotes and line breaks in quotes, when read, then each field is whole", async () => {
    const path = file("quoted.csv", 'id,text\n1,"a,b"\n2,"say ""hi"""\n3,"two\nlines"\n');
    const source = await new CsvReader({ path }).open(db);
    expect(await rows(source)).toEqual([
      { id: 1n, text: "a,b" },
      { id: 2n, text: 'say "hi"' },
      { id: 3n, text: "two\nlines" },
    ]);
  });

  it('given empty fields, when read, then unquoted empty is null and "" is an empty string', async () => {
    const path = file("empty.csv", 'id,text,n\n1,,\n2,"",5\n3,x,6\n');
    const source = await new CsvReader({ path }).open(db);
    expect(await rows(source)).toEqual([
      { id: 1n, text: null, n: null },
      { id: 2n, text: "", n: 5n },
      { id: 3n, text: "x", n: 6n },
    ]);
  });

  it("given null_strings, when read, then those unquoted values are null and quoted ones are kept", async () => {
    const path = file("na.csv", 'id,text\n1,NA\n2,"NA"\n3,\n');
    const source = await new CsvReader({ path, nullStrings: ["NA"] }).open(db);
    expect(await rows(source)).toEqual([
      { id: 1n, text: null },
      { id: 2n, text: "NA" },
      { id: 3n, text: "" },
    ]);
  });

  it("given a UTF-8 byte order mark and CRLF line ends, when read, then the first column's name and the last field are clean", async () => {
    const path = file("bom.csv", "\ufeffid,text\r\n1,x\r\n2,y\r\n");
    const source = await new CsvReader({ path }).open(db);
    expect(source.columns.map((c) => c.name)).toEqual(["id", "text"]);
    expect(await rows(source)).toEqual([
      { id: 1n, text: "x" },
      { id: 2n, text: "y" },
    ]);
  });

  it("given another delimiter, quote and no header, when read, then columns are column0, column1, ...", async () => {
    const path = file("semi.txt", "1;'a;b'\n2;'c'\n");
    const source = await new CsvReader({ path, delimiter: ";", quote: "'", header: false }).open(db);
    expect(await rows(source)).toEqual([
      { column0: 1n, column1: "a;b" },
      { column0: 2n, column1: "c" },
    ]);
  });

  it("given explicit types, when read, then those columns have them and the others are detected", async () => {
    const path = file("types.csv", "id,code,x\n1,007,1.5\n2,010,2\n");
    const source = await new CsvReader({ path, types: { code: "VARCHAR", id: "INTEGER" } }).open(db);
    expect(source.columns).toEqual([
      { name: "id", type: "INTEGER" },
      { name: "code", type: "VARCHAR" },
      { name: "x", type: "DOUBLE" },
    ]);
    expect((await rows(source)).map((r) => r.code)).toEqual(["007", "010"]);
  });

  it("given types naming a column the file lacks, when opened, then E_READ names it", async () => {
    const path = file("t.csv", "a\n1\n");
    const error = await failure(new CsvReader({ path, types: { nope: "BIGINT" } }).open(db));
    expect(error.code).toBe("E_READ");
    expect(error.message).toContain("nope");
  });

  it("given a value that does not parse as its explicit type, when streamed, then E_READ gives the line", async () => {
    const path = file("bad.csv", "a\n1\n2\nabc\n");
    const source = await new CsvReader({ path, types: { a: "BIGINT" } }).open(db);
    const error = await failure(
      (async () => {
        for await (const _ of source.batches([{ name: "a", type: "int64" }], 10));
      })(),
    );
    expect(error.code).toBe("E_READ");
    expect(error.message).toContain('"abc"');
  });

  it("given pandas' to_csv output with nulls, quotes and commas, when read, then values equal pandas'", async () => {
    const path = join(dir, "pandas.csv");
    python(
      inject("python"),
      `import sys, pandas as pd, numpy as np
df = pd.DataFrame({"id": [1, 2, 3], "x": [0.5, np.nan, 2.25], "s": ["a,b", 'q"uote', None]})
df.to_csv(sys.argv[1], index=False)`,
      [path],
    );
    const source = await new CsvReader({ path }).open(db);
    expect(await rows(source)).toEqual([
      { id: 1n, x: 0.5, s: "a,b" },
      { id: 2n, x: null, s: 'q"uote' },
      { id: 3n, x: 2.25, s: null },
    ]);
  });
});

describe("CsvWriter", () => {
  it("given ids, floats, text with delimiters and quotes, nulls and empty strings, when written, then pandas and DuckDB read the same values", async () => {
    const path = join(dir, "out", "predictions.csv");
    const rowsWritten = await new CsvWriter({ path }).write(
      db,
      `(SELECT * FROM (VALUES (1, 0.5::FLOAT, 'a,b'), (2, NULL, 'say "hi"'), (3, 2.25::FLOAT, ''), (4, 1.0::FLOAT, NULL)) t(id, prediction, note))`,
    );
    expect(rowsWritten).toBe(4);
    const out = python(
      inject("python"),
      `import sys, json, pandas as pd
df = pd.read_csv(sys.argv[1], keep_default_na=False, na_values=[""])
print(json.dumps({"id": df.id.tolist(), "p": [None if pd.isna(v) else v for v in df.prediction], "rows": len(df)}))`,
      [path],
    );
    expect(JSON.parse(out)).toEqual({ id: [1, 2, 3, 4], p: [0.5, null, 2.25, 1], rows: 4 });
    const back = await new CsvReader({ path }).open(db);
    expect((await rows(back)).map((r) => r.note)).toEqual(["a,b", 'say "hi"', "", null]);
  });

  it("given a delimiter and no header, when written, then the file uses them", async () => {
    const path = join(dir, "p.csv");
    await new CsvWriter({ path, delimiter: ";", header: false }).write(db, "(SELECT 1 AS a, 'x' AS b)");
    const back = await new CsvReader({ path, delimiter: ";", header: false }).open(db);
    expect(await rows(back)).toEqual([{ column0: 1n, column1: "x" }]);
  });
});
