/**
 * DuckDB's read errors, provoked here with real files, come out as one short E_READ: which file, which
 * line, what is wrong, what to do; DuckDB's 40-line text (sniffer options, "Possible fixes") only as the
 * cause. The expected lines are the files' real lines, so a DuckDB that counts otherwise fails here.
 */
import { appendFileSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import type { Database } from "../../src/data/database.js";
import { condensedReadError } from "../../src/data/read-errors.js";
import { CsvReader, type CsvReaderOptions } from "../../src/data/readers/csv-reader.js";
import { JsonLinesReader, type JsonLinesReaderOptions } from "../../src/data/readers/json-lines-reader.js";
import type { Reader } from "../../src/data/readers/reader.js";
import { validateInputs } from "../../src/data/schema.js";
import { quotedString } from "../../src/data/sql.js";
import { messageOf } from "../../src/errors.js";
import { eachTest, failure } from "../helpers.js";

let db: Database;
let dir: string;
eachTest((database, folder) => {
  db = database;
  dir = folder;
});

/** More rows than DuckDB's sniffer reads (20480), so a bad line after them fails while reading. */
const MANY = 30_000;
const lines = (count: number, line: (i: number) => string) =>
  Array.from({ length: count }, (_, i) => `${line(i)}\n`).join("");

const FIX_FIELDS =
  "Fix that line (quote fields that hold the delimiter), or set inputs.delimiter if the file uses another.";
const FIX_JSON = "Fix that line: each line must be one JSON object.";

interface Case {
  readonly name: string;
  readonly file: string;
  readonly text: string | Buffer;
  readonly csv?: Omit<CsvReaderOptions, "path">;
  readonly json?: Omit<JsonLinesReaderOptions, "path">;
  /** The message after `cannot read inputs "<file>": `. */
  readonly expected: string;
}

const CASES: readonly Case[] = [
  {
    name: "a CSV row with extra fields in the first lines (the sniffer gives up)",
    file: "extra.csv",
    text: "a,b\n1,2\n3,4,5\n6,7\n",
    expected: `line 3 has 3 fields instead of 2. ${FIX_FIELDS}`,
  },
  {
    name: "a CSV row with extra fields after the sniffed lines",
    file: "extra-late.csv",
    text: `a,b\n${lines(MANY, (i) => `${i},${i}`)}1,2,3\n`,
    expected: `line ${MANY + 2} has 3 fields instead of 2. ${FIX_FIELDS}`,
  },
  {
    name: "a CSV row with too few fields in the first lines",
    file: "few.csv",
    text: "a,b,c\n1,2,3\n4,5\n6,7,8\n",
    expected: `line 3 has 2 fields instead of 3. ${FIX_FIELDS}`,
  },
  {
    name: "a CSV row with too few fields after the sniffed lines",
    file: "few-late.csv",
    text: `a,b,c\n${lines(MANY, (i) => `${i},${i},x`)}1,2\n`,
    expected: `line ${MANY + 2} has 2 fields instead of 3. ${FIX_FIELDS}`,
  },
  {
    name: "an unterminated quote after the sniffed lines",
    file: "quote-late.csv",
    text: `a,b\n${lines(MANY, (i) => `${i},x`)}1,"abc\n2,y\n`,
    expected:
      `line ${MANY + 2} has a quoted field that is not closed (or text after its closing quote). ` +
      "Fix the quotes on that line, or set inputs.quote if that character is not the file's quote.",
  },
  {
    name: "an unterminated quote in the first lines (no line: the sniffer gives up, and again on a second read)",
    file: "quote.csv",
    text: 'a,b\n1,"abc\n2,y\n',
    expected:
      "its first lines do not split into rows of one shape with these settings (a row with extra or missing " +
      "fields, or a quote that is not closed). Fix the file, or set inputs.delimiter, inputs.quote or " +
      "inputs.escape to the ones it uses.",
  },
  {
    name: "invalid UTF-8",
    file: "latin1.csv",
    text: Buffer.concat([Buffer.from("a,b\n1,x\n2,"), Buffer.from([0xe9, 0xff]), Buffer.from("\n3,z\n")]),
    expected: "line 3 is not valid UTF-8 text. Save the file as UTF-8 (e.g. iconv -f latin1 -t utf-8).",
  },
  {
    name: "a value that does not fit an explicit types column",
    file: "typed.csv",
    text: "a,b\n1,x\n2,y\nabc,z\n",
    csv: { types: { a: "BIGINT" } },
    expected: 'line 4 has "abc" in column "a", not a BIGINT. Fix the value, or change inputs.types for "a".',
  },
  {
    name: "a value that does not fit the type detected from the first rows",
    file: "detected.csv",
    text: `a,b\n${lines(MANY, (i) => `${i},x`)}abc,y\n`,
    expected:
      `line ${MANY + 2} has "abc" in column "a", not a BIGINT (the type detected from the first rows). ` +
      'Set inputs.types for "a" (e.g. VARCHAR), or fix the value.',
  },
  {
    name: "a JSON line that is not JSON",
    file: "bad.jsonl",
    text: '{"a": 1}\nnot json\n{"a": 3}\n',
    expected: `line 2 is not valid JSON (invalid literal at byte 1). ${FIX_JSON}`,
  },
  {
    name: "a JSON line that is not JSON after the sampled lines",
    file: "bad-late.jsonl",
    text: `${lines(MANY, (i) => `{"a": ${i}}`)}{oops\n`,
    expected: `line ${MANY + 1} is not valid JSON (unexpected character at byte 2). ${FIX_JSON}`,
  },
  {
    name: "a JSON value that does not fit an explicit types column",
    file: "typed.jsonl",
    text: '{"a": 1}\n{"a": "x"}\n',
    json: { types: { a: "BIGINT" } },
    expected:
      `line 2 has a value that does not fit its column's type (Failed to cast value to numerical: "x"). ` +
      "Fix the value, or set inputs.types for its column.",
  },
];

function reader(test: Case, path: string): Reader {
  return test.file.endsWith(".jsonl")
    ? new JsonLinesReader({ path, ...test.json })
    : new CsvReader({ path, ...test.csv });
}

/** Opens and validates the inputs as a job does first, with a model that reads every column. */
async function validated(input: Reader): Promise<number> {
  const source = await input.open(db);
  const features = source.columns.map((c) => ({
    name: c.name,
    signatureType: undefined,
    type: "float64" as const,
  }));
  return (await validateInputs(db, source, features, "models:/m/1")).report.rows.total;
}

describe("read errors, condensed", () => {
  it.each(CASES)(
    "given $name, when opened and validated, then E_READ says the file, the line and what to do",
    async (test) => {
      const path = join(dir, test.file);
      writeFileSync(path, test.text);
      const error = await failure(validated(reader(test, path)));
      expect(error.code).toBe("E_READ");
      expect(error.message).toBe(`cannot read inputs "${path}": ${test.expected}`);
      expect(error.message.length).toBeLessThan(400);
      // DuckDB's own text, with its options, stays the cause.
      expect(messageOf(error.cause)).toMatch(/Error/);
      expect(error.message).not.toContain("Possible");
    },
  );

  it("given a CSV row with extra fields after the sniffed lines, when only streamed, then the same E_READ", async () => {
    const path = join(dir, "late.csv");
    writeFileSync(path, `a,b\n${lines(MANY, (i) => `${i},${i}`)}1,2,3\n`);
    const source = await new CsvReader({ path }).open(db);
    const error = await failure(
      (async () => {
        for await (const _ of source.batches([{ name: "a", type: "int64" }], 4096));
      })(),
    );
    expect(error.message).toBe(
      `cannot read inputs "${path}": line ${MANY + 2} has 3 fields instead of 2. ${FIX_FIELDS}`,
    );
  });

  it("given a folder whose second file has a bad line after the sniffed lines, when validated, then E_READ names that file", async () => {
    const folder = join(dir, "parts");
    mkdirSync(folder);
    writeFileSync(join(folder, "a.csv"), "a,b\n1,2\n");
    const second = join(folder, "b.csv");
    writeFileSync(second, `a,b\n${lines(MANY, (i) => `${i},${i}`)}1,2,3\n`);
    const error = await failure(validated(new CsvReader({ path: folder })));
    expect(error.message).toBe(
      `cannot read inputs "${folder}" (file "${second}"): line ${MANY + 2} has 3 fields instead of 2. ${FIX_FIELDS}`,
    );
  });

  it("given a folder whose second file has a row with extra fields in its first lines, when opened, then E_READ names that file and line", async () => {
    const folder = join(dir, "parts");
    mkdirSync(folder);
    writeFileSync(join(folder, "a.csv"), "a,b\n1,2\n");
    const second = join(folder, "b.csv");
    writeFileSync(second, "a,b\n1,2\n3,4,5\n");
    const error = await failure(validated(new CsvReader({ path: folder })));
    expect(error.message).toBe(
      `cannot read inputs "${folder}" (file "${second}"): line 3 has 3 fields instead of 2. ${FIX_FIELDS}`,
    );
    // The second read that found the line leaves no rejects table behind.
    expect(await db.rows("SELECT table_name FROM duckdb_tables()")).toEqual([]);
  });

  it("given DuckDB's own error for a gzip file it cannot decompress, when condensed, then it says the gzip data is damaged", async () => {
    const path = join(dir, "zeros.csv.gz");
    await db.run(`COPY (SELECT 1 AS a) TO ${quotedString(path)} (FORMAT csv, COMPRESSION gzip)`);
    appendFileSync(path, Buffer.alloc(16));
    const duckdb = await db.rows(`SELECT * FROM read_csv(${quotedString(path)})`).catch((e: unknown) => e);
    expect(messageOf(duckdb)).toContain("Input is not a GZIP stream");
    expect(condensedReadError(duckdb, path, [path]).message).toBe(
      `cannot read inputs "${path}": the gzip data is damaged (Input is not a GZIP stream). ` +
        `Check the file (gzip -t ${path}) and copy it again.`,
    );
  });

  it("given an error DuckDB words in no known way, when condensed, then its first line stays, without DuckDB's error class", () => {
    const error = new Error("Invalid Input Error: something new happened\nLINE 1: SELECT ...\n  ^");
    expect(condensedReadError(error, "in.csv").message).toBe(
      'cannot read inputs "in.csv": something new happened. Check the file and the inputs settings.',
    );
  });
});
