/**
 * Damaged inputs are refused, never read as fewer rows: DuckDB alone read 2 of 20 cuts of a 100k-row
 * .csv.gz as a shorter dataset, and reads a gzip file with a bad CRC or length without a word.
 */
import { appendFileSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import type { Database } from "../../src/data/database.js";
import { CsvReader } from "../../src/data/readers/csv-reader.js";
import { JsonLinesReader } from "../../src/data/readers/json-lines-reader.js";
import { ParquetReader } from "../../src/data/readers/parquet-reader.js";
import type { Reader } from "../../src/data/readers/reader.js";
import { validateInputs } from "../../src/data/schema.js";
import { quotedString } from "../../src/data/sql.js";
import { eachTest, failure } from "../helpers.js";

const ROWS = 100_000;
const CUTS = 20;

let db: Database;
let dir: string;
eachTest((database, folder) => {
  db = database;
  dir = folder;
});

/** Writes `ROWS` rows with DuckDB's COPY in the given format (`csv`, `json`, `parquet`) and compression. */
async function dataFile(name: string, format: string, compression?: string, header = true): Promise<string> {
  const path = join(dir, name);
  const options = [`FORMAT ${format}`];
  if (compression !== undefined) options.push(`COMPRESSION ${compression}`);
  if (!header) options.push("HEADER false");
  await db.run(
    `COPY (SELECT i AS id, i * 0.5 AS x, 'name' || i AS s FROM range(${ROWS}) t(i)) TO ${quotedString(path)} (${options.join(", ")})`,
  );
  return path;
}

/** Offsets in [1, size) from a fixed seed (mulberry32), so every run cuts at the same places. */
function cutOffsets(size: number, count: number, seed: number): number[] {
  let state = seed;
  const next = () => {
    state = (state + 0x6d2b79f5) | 0;
    let t = Math.imul(state ^ (state >>> 15), 1 | state);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return Array.from({ length: count }, () => 1 + Math.floor(next() * (size - 1)));
}

function cut(path: string, at: number, name: string): string {
  const target = join(dir, name);
  writeFileSync(target, readFileSync(path).subarray(0, at));
  return target;
}

/** Opens and validates the inputs as a job does first, with a model that reads `id`: the rows they hold. */
async function validatedRows(reader: Reader): Promise<number> {
  const source = await reader.open(db);
  const features = [{ name: "id", signatureType: undefined, type: "int64" as const }];
  const { report } = await validateInputs(db, source, features, "models:/m/1");
  return report.rows.total;
}

/** Opens and streams the inputs (no validation pass): the rows streamed. */
async function streamedRows(reader: Reader): Promise<number> {
  const source = await reader.open(db);
  let rows = 0;
  for await (const batch of source.batches([{ name: "id", type: "int64" }], 8192)) rows += batch.length;
  return rows;
}

const FORMATS = [
  { format: "csv", suffix: ".csv", reader: (path: string): Reader => new CsvReader({ path }) },
  { format: "json", suffix: ".jsonl", reader: (path: string): Reader => new JsonLinesReader({ path }) },
] as const;

describe.each(FORMATS)("gzip $suffix inputs", ({ format, suffix, reader }) => {
  it(`given a ${ROWS}-row file, when validated and streamed, then every row is read`, async () => {
    const path = await dataFile(`whole${suffix}.gz`, format, "gzip");
    expect(await validatedRows(reader(path))).toBe(ROWS);
    expect(await streamedRows(reader(path))).toBe(ROWS);
  });

  it(`given the file cut at ${CUTS} seeded random offsets, when each is validated, then each is E_READ naming it as truncated`, async () => {
    const path = await dataFile(`whole${suffix}.gz`, format, "gzip");
    const size = readFileSync(path).length;
    for (const [i, at] of cutOffsets(size, CUTS, 12).entries()) {
      const damaged = cut(path, at, `cut-${i}${suffix}.gz`);
      const error = await failure(validatedRows(reader(damaged)));
      expect(error.code, `cut at ${at}`).toBe("E_READ");
      expect(error.message).toBe(
        `cannot read inputs "${damaged}": the gzip data is damaged (unexpected end of file after ${at} bytes: ` +
          `the file is truncated). Check the file (gzip -t ${damaged}) and copy it again.`,
      );
    }
  });

  it("given cut files, when only streamed (no validation pass), then each is E_READ before the stream ends", async () => {
    const path = await dataFile(`whole${suffix}.gz`, format, "gzip");
    const size = readFileSync(path).length;
    for (const [i, at] of cutOffsets(size, 5, 34).entries()) {
      const error = await failure(streamedRows(reader(cut(path, at, `cut-${i}${suffix}.gz`))));
      expect(error.code).toBe("E_READ");
      expect(error.message).toContain("the gzip data is damaged (unexpected end of file");
    }
  });
});

describe("gzip inputs, other damage", () => {
  it("given two gzip members one after the other (valid gzip, as cat a.gz b.gz makes), when validated, then the rows of both are read", async () => {
    const path = await dataFile("two.csv.gz", "csv", "gzip");
    const second = await dataFile("second.csv.gz", "csv", "gzip", false);
    appendFileSync(path, readFileSync(second));
    expect(await validatedRows(new CsvReader({ path }))).toBe(2 * ROWS);
  });

  it.each([
    ["CRC", 8, "bad CRC"],
    ["length", 4, "bad length"],
  ])(
    "given a file whose %s is wrong (DuckDB reads it all without a word), when validated, then E_READ says so",
    async (_, fromEnd, reason) => {
      const path = await dataFile("flipped.csv.gz", "csv", "gzip");
      const bytes = readFileSync(path);
      bytes[bytes.length - fromEnd]! ^= 0x55;
      writeFileSync(path, bytes);
      const error = await failure(validatedRows(new CsvReader({ path })));
      expect(error.code).toBe("E_READ");
      expect(error.message).toContain(`"${path}": the gzip data is damaged (${reason}`);
    },
  );

  it("given bytes after the gzip data, when opened, then E_READ says trailing garbage (DuckDB: 'Input is not a GZIP stream')", async () => {
    const path = await dataFile("trailing.jsonl.gz", "json", "gzip");
    appendFileSync(path, "garbage\n");
    const error = await failure(validatedRows(new JsonLinesReader({ path })));
    expect(error.code).toBe("E_READ");
    expect(error.message).toContain("the gzip data is damaged (trailing garbage after the gzip data)");
  });

  it("given a folder of gzip files of which the second is cut, when validated, then E_READ names that file", async () => {
    const whole = await dataFile("a.csv.gz", "csv", "gzip");
    const size = readFileSync(whole).length;
    const damaged = cut(whole, Math.floor(size / 2), "b.csv.gz");
    const error = await failure(validatedRows(new CsvReader({ path: dir })));
    expect(error.code).toBe("E_READ");
    expect(error.message).toContain(`cannot read inputs "${damaged}": the gzip data is damaged`);
  });
});

describe("zstd inputs (DuckDB decompresses .zst by name and reads a cut file as fewer rows)", () => {
  it("given a whole .csv.zst, when validated, then every row is read", async () => {
    const path = await dataFile("whole.csv.zst", "csv", "zstd");
    expect(await validatedRows(new CsvReader({ path }))).toBe(ROWS);
  });

  it("given the file cut at 10 seeded random offsets, when each is validated, then each is E_READ naming it as truncated", async () => {
    const path = await dataFile("whole.csv.zst", "csv", "zstd");
    const size = readFileSync(path).length;
    for (const [i, at] of cutOffsets(size, 10, 56).entries()) {
      const damaged = cut(path, at, `cut-${i}.csv.zst`);
      const error = await failure(validatedRows(new CsvReader({ path: damaged })));
      expect(error.code, `cut at ${at}`).toBe("E_READ");
      expect(error.message).toContain(
        `"${damaged}": the zstd data is damaged (unexpected end of file after ${at} bytes: the file is truncated)`,
      );
    }
  });

  it("given bytes after the zstd data, when validated, then E_READ says trailing garbage", async () => {
    const path = await dataFile("trailing.csv.zst", "csv", "zstd");
    appendFileSync(path, "garbage\n");
    const error = await failure(validatedRows(new CsvReader({ path })));
    expect(error.message).toContain(
      "the zstd data is damaged (8 bytes of trailing garbage after the zstd data)",
    );
  });
});

describe("Parquet inputs (the footer is at the end: a cut file has none)", () => {
  it(`given a Parquet file cut at ${CUTS} seeded random offsets, when each is opened, then each is E_READ`, async () => {
    const path = await dataFile("whole.parquet", "parquet");
    expect(await validatedRows(new ParquetReader({ path }))).toBe(ROWS);
    const size = readFileSync(path).length;
    for (const [i, at] of cutOffsets(size, CUTS, 78).entries()) {
      const damaged = cut(path, at, `cut-${i}.parquet`);
      const error = await failure(validatedRows(new ParquetReader({ path: damaged })));
      expect(error.code, `cut at ${at}`).toBe("E_READ");
      expect(error.message).toContain(`"${damaged}": not a readable Parquet file`);
    }
  });
});
