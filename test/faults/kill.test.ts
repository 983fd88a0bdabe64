/**
 * kill -9 at random moments of the write step, over an existing output (mode overwrite): the output path
 * holds the old output whole after every kill, and the next run completes and leaves no temporary
 * behind (beside the output, or in TMPDIR).
 */
import { spawn } from "node:child_process";
import { mkdirSync, readdirSync, readFileSync, realpathSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseScratch } from "../../src/scratch.js";
import { BIKES, INPUTS_TEST, query, ROOT, removeDir, tempDir } from "../helpers.js";

const ROWS = 3476 * 300;
const KILLS = 6;

let dir: string;
let tmp: string;
let inputs: string;
beforeAll(async () => {
  dir = tempDir("mlbatch-kill-");
  tmp = join(dir, "tmp");
  inputs = join(dir, "inputs.parquet");
  mkdirSync(tmp);
  await query(
    `COPY (SELECT i.* FROM read_parquet('${INPUTS_TEST}') i, range(300)) TO '${inputs}' (FORMAT parquet)`,
  );
});
afterAll(() => removeDir(dir));

/** A run of the example over the big inputs into `out`, killed with SIGKILL `afterMs` after the write starts. */
function run(out: string, parts: boolean, afterMs?: number): Promise<{ code: number | null; write: number }> {
  const outputs = `{path: '${out}', mode: overwrite${parts ? ", max_rows_per_file: 20000" : ""}}`;
  const child = spawn(
    process.execPath,
    [
      join(ROOT, "bin", "mlbatch.js"),
      "run",
      join(BIKES, "confs", "inference.yaml"),
      "-e",
      `job: {inputs: {path: '${inputs}'}, outputs: ${outputs}, validation: {constraints: {}}}`,
    ],
    { cwd: ROOT, env: { ...process.env, TMPDIR: tmp }, stdio: ["ignore", "ignore", "pipe"] },
  );
  let stderr = "";
  let writing = 0;
  child.stderr.on("data", (chunk: Buffer) => {
    stderr += chunk;
    if (writing === 0 && stderr.includes("[Inference] Write outputs")) {
      writing = performance.now();
      if (afterMs !== undefined) setTimeout(() => child.kill("SIGKILL"), afterMs);
    }
  });
  return new Promise((resolve) => {
    child.on("close", (code) => resolve({ code, write: (performance.now() - writing) / 1000 }));
  });
}

/** Rows of a complete output: for a folder, its marker must list exactly the parts it holds. */
async function rowsOf(out: string, parts: boolean): Promise<number> {
  if (parts) {
    const real = realpathSync(out);
    const marker = JSON.parse(readFileSync(join(real, "_SUCCESS"), "utf8")) as { files: string[] };
    expect(readdirSync(real).sort()).toEqual([...new Set(["_SUCCESS", ...marker.files])].sort());
  }
  const [row] = await query(
    `SELECT count(*)::INT AS n FROM read_parquet('${parts ? join(out, "*.parquet") : out}')`,
  );
  return Number(row?.n);
}

/** Deterministic "random" delays: a small linear congruential generator. */
function delays(seed: number, count: number, maxMs: number): number[] {
  let state = seed;
  return Array.from({ length: count }, () => {
    state = (state * 1_103_515_245 + 12_345) % 2 ** 31;
    return Math.floor((state / 2 ** 31) * maxMs);
  });
}

describe.each([
  ["one file", false],
  ["a folder of parts", true],
] as const)("kill -9 while overwriting %s", (_, parts) => {
  it(`given an existing output, when ${KILLS} runs are killed at random moments of the write, then the old output stays whole, and the next run leaves no temporary`, async () => {
    const out = join(dir, parts ? "parts" : "predictions.parquet");
    const first = await run(out, parts);
    expect(first.code).toBe(0);
    expect(await rowsOf(out, parts)).toBe(ROWS);
    // Kill points spread over the write and a little past it (the commit).
    for (const delay of delays(parts ? 7 : 11, KILLS, Math.max(50, first.write * 1000 * 1.2))) {
      const killed = await run(out, parts, delay);
      expect([null, 0], `killed after ${delay} ms`).toContain(killed.code);
      expect(await rowsOf(out, parts), `after a kill ${delay} ms into the write`).toBe(ROWS);
    }
    const last = await run(out, parts);
    expect(last.code).toBe(0);
    expect(await rowsOf(out, parts)).toBe(ROWS);
    // No scratch entry beside the output but the published parts folder; no DuckDB spill in TMPDIR.
    const scratch = readdirSync(dir).filter((name) => parseScratch(name) !== undefined);
    expect(scratch).toHaveLength(parts ? 1 : 0);
    expect(readdirSync(tmp)).toEqual([]);
  });
});
