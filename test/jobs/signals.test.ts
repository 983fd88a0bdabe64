/**
 * SIGTERM and SIGINT: the job stops, notifies E_INTERRUPTED, removes its temporaries and exits 143/130
 * within 10 s; a second signal exits at once.
 */
import { spawn } from "node:child_process";
import { mkdirSync, readdirSync } from "node:fs";
import { constants } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BIKES, INPUTS_TEST, query, ROOT, removeDir, tempDir } from "../helpers.js";

let dir: string;
let inputs: string;
beforeAll(async () => {
  dir = tempDir("mlbatch-signals-");
  inputs = join(dir, "inputs.parquet");
  // 3.5M rows: long enough to be interrupted in any step.
  await query(
    `COPY (SELECT i.* FROM read_parquet('${INPUTS_TEST}') i, range(1000)) TO '${inputs}' (FORMAT parquet)`,
  );
});
afterAll(() => removeDir(dir));

interface Outcome {
  readonly code: number | null;
  readonly stdout: string;
  readonly seconds: number;
  readonly left: { readonly out: string[]; readonly tmp: string[] };
}

/**
 * Runs the example over the big inputs into a fresh folder and TMPDIR, sends `signals` once stderr
 * shows `when`, and reports how it ended.
 */
function interrupted(name: string, when: string, signals: NodeJS.Signals[], extras = ""): Promise<Outcome> {
  const out = join(dir, name);
  const tmp = join(dir, `${name}-tmp`);
  mkdirSync(out);
  mkdirSync(tmp);
  const extra = `job: {inputs: {path: '${inputs}'}, outputs: {path: '${join(out, "predictions")}'${extras}}, validation: {constraints: {}}}`;
  const child = spawn(
    process.execPath,
    [join(ROOT, "bin", "mlbatch.js"), "run", join(BIKES, "confs", "inference.yaml"), "-e", extra],
    { cwd: ROOT, env: { ...process.env, TMPDIR: tmp }, stdio: ["ignore", "pipe", "pipe"] },
  );
  let stdout = "";
  let stderr = "";
  let sentAt = 0;
  child.stdout.on("data", (chunk: Buffer) => {
    stdout += chunk;
  });
  child.stderr.on("data", (chunk: Buffer) => {
    stderr += chunk;
    if (sentAt === 0 && stderr.includes(when)) {
      sentAt = performance.now();
      for (const signal of signals) child.kill(signal);
    }
  });
  return new Promise((resolve) => {
    child.on("exit", (code, signal) => {
      resolve({
        // A process ended by its signal's default action: a shell, Kubernetes and Slurm report 128 + n.
        code: code ?? (signal === null ? null : 128 + constants.signals[signal]),
        stdout,
        seconds: sentAt === 0 ? Number.NaN : (performance.now() - sentAt) / 1000,
        left: { out: readdirSync(out), tmp: readdirSync(tmp) },
      });
    });
  });
}

describe("signals", () => {
  it("given SIGTERM while predicting, then exit 143 within 10 s, an E_INTERRUPTED notification, and nothing left", async () => {
    const outcome = await interrupted("term-predict", "[Inference] Predict outputs", ["SIGTERM"]);
    expect(outcome.code).toBe(143);
    expect(outcome.seconds).toBeLessThan(10);
    expect(outcome.stdout).toContain("[Bikes] Inference Job Failed: [E_INTERRUPTED] interrupted by SIGTERM");
    expect(outcome.stdout).toContain("nothing was written");
    expect(outcome.left).toEqual({ out: [], tmp: [] });
  });

  it("given SIGINT while writing parts, then exit 130 within 10 s, the notification, and no partial part or folder", async () => {
    const outcome = await interrupted(
      "int-write",
      "[Inference] Write outputs",
      ["SIGINT"],
      ", max_rows_per_file: 5000",
    );
    expect(outcome.code).toBe(130);
    expect(outcome.seconds).toBeLessThan(10);
    expect(outcome.stdout).toContain("Inference Job Failed: [E_INTERRUPTED] interrupted by SIGINT");
    expect(outcome.left).toEqual({ out: [], tmp: [] });
  });

  it("given two SIGTERMs at once while writing, then it exits at once with 143 and removes its temporaries", async () => {
    const outcome = await interrupted(
      "term-twice",
      "[Inference] Write outputs",
      ["SIGTERM", "SIGTERM"],
      ", max_rows_per_file: 5000",
    );
    expect(outcome.code).toBe(143);
    expect(outcome.seconds).toBeLessThan(2);
    expect(outcome.left).toEqual({ out: [], tmp: [] });
  });
});
