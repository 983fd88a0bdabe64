import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { loadSettings } from "../../src/config/load.js";
import type { MlbatchError } from "../../src/errors.js";
import { InferenceJobConfig } from "../../src/jobs/inference.js";
import type { JobEvent } from "../../src/services/job-event.js";
import {
  BIKES,
  EXAMPLE_REGISTRY,
  failure,
  INPUTS_TEST,
  inferenceJob,
  query,
  ROOT,
  removeDir,
  tempDir,
} from "../helpers.js";

const INPUTS_INVALID = join(ROOT, "test", "fixtures", "data", "inputs_invalid.csv");
const EXAMPLE = join(BIKES, "confs", "inference.yaml");
/** The instants of the fixture's invalid rows (rows 2, 3, 5, 8, 9, 12, 17, 40, 77, 120, 150). */
const INVALID_ROWS = [2, 3, 5, 8, 9, 12, 17, 40, 77, 120, 150];

let dir: string;
beforeEach(() => {
  dir = tempDir();
});
afterEach(() => removeDir(dir));

/** The example's job config (with its constraints), reading the fixture with 11 invalid rows. */
async function exampleConfig(overrides: Record<string, unknown> = {}): Promise<Record<string, unknown>> {
  const settings = await loadSettings([EXAMPLE]);
  const { KIND: _, ...job } = settings.job as InferenceJobConfig;
  return {
    ...job,
    inputs: { KIND: "CsvReader", path: INPUTS_INVALID, types: { dteday: "VARCHAR" } },
    outputs: { KIND: "ParquetWriter", path: join(dir, "out", "predictions.parquet") },
    id_columns: ["instant"],
    alerts_service: { app_name: "Bikes" },
    logger_service: {},
    mlflow_service: { registry_uri: EXAMPLE_REGISTRY },
    ...overrides,
    validation: { ...job.validation, ...(overrides.validation as object | undefined) },
  };
}

/** A job whose notifications' events are captured. */
function capturedJob(config: Record<string, unknown>) {
  const built = inferenceJob(config);
  const events: JobEvent[] = [];
  built.services.alerts.notify = async (event: JobEvent) => {
    events.push(event);
  };
  return { ...built, events };
}

/** Predictions of the full, valid test set, by instant. */
async function fullRun(): Promise<string> {
  const path = join(dir, "full.parquet");
  const { job } = inferenceJob({
    inputs: { KIND: "ParquetReader", path: INPUTS_TEST },
    outputs: { KIND: "ParquetWriter", path },
    mlflow_service: { registry_uri: EXAMPLE_REGISTRY },
  });
  await job.execute();
  return path;
}

describe("on_invalid", () => {
  it("given the fixture and on_invalid fail (the default), then E_SCHEMA lists the 5 problems, the JSON report is written and nothing else", async () => {
    const report = join(dir, "report.json");
    const { job, events } = capturedJob(await exampleConfig({ validation: { report } }));
    const error = await failure(job.execute());
    expect(error).toMatchObject({ code: "E_SCHEMA", step: "validate" });
    expect(error.message.match(/^ {2}- column/gm)).toHaveLength(5);
    const json = JSON.parse(readFileSync(report, "utf8")) as { outcome: string; problems: unknown[] };
    expect(json).toMatchObject({
      valid: false,
      on_invalid: "fail",
      outcome: "failed",
      rows: { total: 200, invalid: 11 },
    });
    expect(json.problems).toHaveLength(5);
    expect(existsSync(join(dir, "out"))).toBe(false);
    expect(events.map((e) => e.event)).toEqual(["failed"]);
  });

  it("given drop, then the valid rows are predicted in input order as in a full run, and counts reconcile", async () => {
    const full = await fullRun();
    const { job, logs, events } = capturedJob(await exampleConfig({ validation: { on_invalid: "drop" } }));
    const locals = await job.execute();
    expect(locals.rows).toEqual({ read: 200, predicted: 189, dropped: 11, quarantined: 0 });
    expect(locals.shape).toEqual([189, 2]);
    expect(events[0]?.rows).toEqual({ read: 200, written: 189, rejected: 11 });
    const [check] = await query(
      `WITH input AS (SELECT instant, row_number() OVER () - 1 AS r FROM read_csv('${INPUTS_INVALID}')),
            kept AS (SELECT instant, row_number() OVER () AS k FROM input WHERE r NOT IN (${INVALID_ROWS.join(", ")})),
            out AS (SELECT instant, prediction, row_number() OVER () AS k FROM '${locals.outputs.path}')
       SELECT count(*)::INT AS n, count_if(kept.instant = out.instant)::INT AS same_order,
              max(abs(out.prediction - f.prediction))::DOUBLE AS diff
       FROM kept JOIN out USING (k) JOIN '${full}' f ON f.instant = out.instant`,
    );
    expect(check).toEqual({ n: 189, same_order: 189, diff: 0 });
    const lines = logs.lines.map((l) => JSON.parse(l) as { level: number; msg: string });
    expect(lines.find((l) => l.msg.startsWith("[Inference] Write outputs"))?.msg).toContain(
      "(rows: 200 read = 189 predicted + 11 dropped)",
    );
    expect(lines.find((l) => l.level === 40)?.msg).toContain("[Inference] Invalid rows: 11 of 200 set aside");
  });

  it("given quarantine, then invalid rows are written with their input row and reasons, and outputs + quarantine = inputs", async () => {
    const quarantine = join(dir, "quarantine", "bad.csv");
    const { job, events } = capturedJob(
      await exampleConfig({
        validation: { on_invalid: "quarantine", quarantine: { KIND: "CsvWriter", path: quarantine } },
      }),
    );
    const locals = await job.execute();
    expect(locals.rows).toEqual({ read: 200, predicted: 189, dropped: 0, quarantined: 11 });
    expect(events[0]?.rows).toEqual({ read: 200, written: 189, rejected: 11 });
    const bad = await query(`SELECT * FROM read_csv('${quarantine}')`);
    expect(bad.map((r) => Number(r.mlbatch_row))).toEqual(INVALID_ROWS);
    expect(Object.keys(bad[0]!).slice(-2)).toEqual(["mlbatch_row", "mlbatch_reason"]);
    expect(Object.keys(bad[0]!)).toContain("cnt");
    expect(bad.find((r) => Number(r.mlbatch_row) === 3)?.mlbatch_reason).toBe("season: in [1, 2, 3, 4]");
    expect(bad.find((r) => Number(r.mlbatch_row) === 8)?.mlbatch_reason).toBe("hr: not null");
    const [union] = await query(
      `SELECT count(*)::INT AS n, count(DISTINCT instant)::INT AS distinct_ids FROM
       (SELECT instant FROM '${locals.outputs.path}' UNION ALL SELECT instant FROM read_csv('${quarantine}'))`,
    );
    expect(union).toEqual({ n: 200, distinct_ids: 200 });
  });

  it("given a quarantine output that exists (mode error), then the job refuses before reading and leaves it", async () => {
    const quarantine = join(dir, "bad.parquet");
    writeFileSync(quarantine, "keep me");
    const { job } = capturedJob(
      await exampleConfig({
        validation: { on_invalid: "quarantine", quarantine: { KIND: "ParquetWriter", path: quarantine } },
      }),
    );
    expect(await failure(job.execute())).toMatchObject({ code: "E_WRITE", step: "write" });
    expect(readFileSync(quarantine, "utf8")).toBe("keep me");
    expect(existsSync(join(dir, "out"))).toBe(false);
  });

  it("given more invalid rows than max_invalid_rows, then the job fails, nothing is written, the report says why", async () => {
    const report = join(dir, "report.json");
    const { job } = capturedJob(
      await exampleConfig({ validation: { on_invalid: "drop", max_invalid_rows: 10, report } }),
    );
    const error = await failure(job.execute());
    expect(error.code).toBe("E_SCHEMA");
    expect(error.message).toContain(
      "11 of 200 rows (5.50%) are invalid, more than job.validation.max_invalid_rows (10), so nothing was predicted or written",
    );
    expect(JSON.parse(readFileSync(report, "utf8"))).toMatchObject({ on_invalid: "drop", outcome: "failed" });
    expect(existsSync(join(dir, "out"))).toBe(false);
  });

  it("given max_invalid_fraction, then 5.5% invalid fails under 0.05 and passes under 0.06", async () => {
    const strict = capturedJob(
      await exampleConfig({ validation: { on_invalid: "drop", max_invalid_fraction: 0.05 } }),
    );
    expect((await failure(strict.job.execute())).message).toContain(
      "more than job.validation.max_invalid_fraction (0.05)",
    );
    const loose = capturedJob(
      await exampleConfig({ validation: { on_invalid: "drop", max_invalid_fraction: 0.06 } }),
    );
    expect((await loose.job.execute()).rows.dropped).toBe(11);
  });

  it("given a missing signature column, then drop does not help: the job fails", async () => {
    const path = join(dir, "no-hr.parquet");
    await query(`COPY (SELECT * EXCLUDE (hr) FROM '${INPUTS_TEST}') TO '${path}'`);
    const { job } = capturedJob(
      await exampleConfig({ inputs: { KIND: "ParquetReader", path }, validation: { on_invalid: "drop" } }),
    );
    const error = await failure(job.execute());
    expect(error.message).toContain('column "hr" is missing');
    const idsOnly = join(dir, "ids-only.parquet");
    await query(`COPY (SELECT instant FROM '${INPUTS_TEST}') TO '${idsOnly}'`);
    const none = capturedJob(
      await exampleConfig({
        inputs: { KIND: "ParquetReader", path: idsOnly },
        validation: { on_invalid: "drop" },
      }),
    );
    expect((await failure(none.job.execute())).message).toContain('column "season" is missing');
    expect(existsSync(join(dir, "out"))).toBe(false);
  });

  it("given many rows read in parallel, when invalid rows are dropped, then ids and predictions stay aligned", async () => {
    const path = join(dir, "many.parquet");
    // 104,280 rows, every 7th with hr out of range; ids unique.
    await query(
      `COPY (SELECT * REPLACE (instant + k * 100000 AS instant, CASE WHEN (instant + k) % 7 = 0 THEN 99 ELSE hr END AS hr)
             FROM '${INPUTS_TEST}', range(30) r(k)) TO '${path}' (FORMAT parquet, ROW_GROUP_SIZE 10000)`,
    );
    const full = await fullRun();
    const { job } = capturedJob(
      await exampleConfig({
        inputs: { KIND: "ParquetReader", path },
        validation: { on_invalid: "drop" },
        batch_size: 8192,
      }),
    );
    const locals = await job.execute();
    const [check] = await query(
      `WITH kept AS (SELECT instant, row_number() OVER () AS k FROM '${path}' WHERE hr <= 23),
            out AS (SELECT instant, prediction, row_number() OVER () AS k FROM '${locals.outputs.path}')
       SELECT count(*)::INT AS n, count_if(kept.instant = out.instant)::INT AS aligned,
              max(abs(out.prediction - f.prediction))::DOUBLE AS diff
       FROM kept JOIN out USING (k) JOIN '${full}' f ON f.instant = out.instant % 100000`,
    );
    expect(check).toEqual({ n: locals.rows.predicted, aligned: locals.rows.predicted, diff: 0 });
    expect(locals.rows.read).toBe(104_280);
    expect(locals.rows.dropped).toBeGreaterThan(14_000);
  });
});

describe("passthrough and model_version_column", () => {
  it("given passthrough columns and a model version column, then they come after the ids and after the predictions", async () => {
    const { job } = capturedJob(
      await exampleConfig({
        inputs: { KIND: "ParquetReader", path: INPUTS_TEST },
        id_columns: undefined,
        passthrough: ["dteday", "hr"],
        model_version_column: "model_version",
      }),
    );
    const locals = await job.execute();
    expect(locals.outputs.columns).toEqual(["instant", "dteday", "hr", "prediction", "model_version"]);
    const [first] = await query(`SELECT * FROM '${locals.outputs.path}' LIMIT 1`);
    const [input] = await query(`SELECT instant, dteday, hr FROM '${INPUTS_TEST}' LIMIT 1`);
    expect(first).toMatchObject({ ...input, model_version: "models:/bikes/2" });
  });

  it("given a passthrough column the inputs lack, then E_SCHEMA says to fix job.passthrough", async () => {
    const { job } = capturedJob(await exampleConfig({ passthrough: ["nope"] }));
    const error = await failure(job.execute());
    expect(error).toMatchObject({ code: "E_SCHEMA", step: "validate" });
    expect(error.message).toContain('passthrough column(s) "nope" not found');
  });

  it("given a model version column named like an output, then E_SCHEMA names the clash", async () => {
    const { job } = capturedJob(
      await exampleConfig({
        inputs: { KIND: "ParquetReader", path: INPUTS_TEST },
        model_version_column: "prediction",
      }),
    );
    const error = await failure(job.execute());
    expect(error.message).toContain('output column(s) "prediction" would appear more than once');
  });
});

describe("formats and write modes in a job", () => {
  it("given the example from Parquet, CSV and JSON Lines, then the predictions are identical", async () => {
    const outputs: string[] = [];
    for (const overlay of [[], ["from-csv.yaml"], ["from-jsonl.yaml"]]) {
      const output = join(dir, `predictions-${outputs.length}.parquet`);
      const settings = await loadSettings(
        [EXAMPLE, ...overlay.map((f) => join(BIKES, "confs", f))],
        [`job: {outputs: {path: '${output}'}}`],
      );
      const { KIND: _, ...job } = settings.job as InferenceJobConfig;
      const paths = { ...job.inputs, path: join(ROOT, job.inputs.path) };
      const locals = await capturedJob({
        ...job,
        inputs: paths,
        mlflow_service: { registry_uri: EXAMPLE_REGISTRY },
      }).job.execute();
      expect(locals.outputs.columns).toEqual(["instant", "prediction"]);
      outputs.push(output);
    }
    for (const other of outputs.slice(1)) {
      const [diff] = await query(
        `SELECT count(*)::INT AS n, count_if(a.instant <> b.instant OR a.prediction <> b.prediction)::INT AS different
         FROM '${outputs[0]}' a POSITIONAL JOIN '${other}' b`,
      );
      expect(diff).toEqual({ n: 3476, different: 0 });
    }
  });

  it("given an existing output and mode error, then the job fails at once, before reading, and never touches it", async () => {
    const path = join(dir, "predictions.parquet");
    writeFileSync(path, "yesterday's predictions");
    const mtime = statSync(path).mtimeMs;
    const { job, logs, events } = capturedJob(
      await exampleConfig({ outputs: { KIND: "ParquetWriter", path } }),
    );
    const error = await failure(job.execute());
    expect(error).toMatchObject({ code: "E_WRITE", step: "write" });
    expect(error.message).toContain("already exists");
    expect(readFileSync(path, "utf8")).toBe("yesterday's predictions");
    expect(statSync(path).mtimeMs).toBe(mtime);
    expect(readdirSync(dir)).toEqual(["predictions.parquet"]);
    expect(logs.text).not.toContain("[Inference] Read inputs");
    expect(events.map((e) => e.event)).toEqual(["failed"]);
  });

  it("given a CSV writer with parts, then the job writes a folder of part files with every prediction", async () => {
    const path = join(dir, "parts");
    const { job } = capturedJob(
      await exampleConfig({
        inputs: { KIND: "ParquetReader", path: INPUTS_TEST },
        outputs: { KIND: "CsvWriter", path, max_rows_per_file: 1000 },
      }),
    );
    const locals = await job.execute();
    expect(locals.shape).toEqual([3476, 2]);
    expect(readdirSync(path)).toEqual([
      "_SUCCESS",
      "part-00000.csv",
      "part-00001.csv",
      "part-00002.csv",
      "part-00003.csv",
    ]);
    expect(await query(`SELECT count(*)::INT AS n FROM read_csv('${path}/*.csv')`)).toEqual([{ n: 3476 }]);
  });
});

describe("InferenceJob.validate", () => {
  it("given valid inputs, then it reports them valid and predicts and writes nothing", async () => {
    const { job, events } = capturedJob(
      await exampleConfig({ inputs: { KIND: "ParquetReader", path: INPUTS_TEST } }),
    );
    const result = await job.validate();
    expect(result.report).toMatchObject({ valid: true, rows: { total: 3476, invalid: 0 } });
    expect(result.summary).toMatch(
      /^inputs ".*inputs_test.parquet" are valid for model models:\/bikes\/2 \(models:\/bikes@Champion\): 3476 rows, \d+ checks passed$/,
    );
    expect(readdirSync(dir)).toEqual([]);
    expect(events).toEqual([]);
  });

  it("given invalid rows, then it fails with the same report as a run, or with drop says what a run would do", async () => {
    const { job } = capturedJob(await exampleConfig());
    const error = await failure(job.validate());
    const run = await failure(capturedJob(await exampleConfig()).job.execute());
    expect(error.message).toBe(run.message);
    const drop = await capturedJob(
      await exampleConfig({ validation: { on_invalid: "drop" } }),
    ).job.validate();
    expect(drop.rejected).toBe(11);
    expect(drop.summary).toContain('with on_invalid "drop" a run would predict 189 rows and drop 11:');
    expect(readdirSync(dir)).toEqual([]);
  });
});

describe("validation config", () => {
  async function configError(extra: string): Promise<MlbatchError> {
    return failure(loadSettings([EXAMPLE], [extra]));
  }

  it("given on_invalid quarantine without a writer, or a writer without quarantine, then E_CONFIG names job.validation.quarantine", async () => {
    const missing = await configError("job: {validation: {on_invalid: quarantine}}");
    expect(missing.code).toBe("E_CONFIG");
    expect(missing.message).toContain(
      'job.validation.quarantine: missing: on_invalid "quarantine" needs a writer',
    );
    const unused = await configError("job: {validation: {quarantine: {KIND: CsvWriter, path: q.csv}}}");
    expect(unused.message).toContain('job.validation.quarantine: only used with on_invalid "quarantine"');
  });

  it("given unknown constraint keys, modes or fractions out of range, then E_CONFIG names each path", async () => {
    const error = await configError(
      "job: {validation: {constraints: {hr: {between: [0, 23]}}, max_invalid_fraction: 2}, outputs: {mode: append}}",
    );
    expect(error.message).toContain("job.validation.constraints.hr.between: unknown key");
    expect(error.message).toContain("job.validation.max_invalid_fraction");
    expect(error.message).toContain("job.outputs.mode");
  });

  it("given the defaults, then outputs refuse to overwrite and invalid rows fail the job", async () => {
    const parsed = InferenceJobConfig.parse({
      KIND: "InferenceJob",
      inputs: { KIND: "CsvReader", path: "x.csv" },
      outputs: { KIND: "JsonLinesWriter", path: "y.jsonl" },
    });
    expect(parsed.outputs).toEqual({ KIND: "JsonLinesWriter", path: "y.jsonl", mode: "error" });
    expect(parsed.inputs).toMatchObject({ delimiter: ",", header: true, quote: '"', null_strings: [""] });
    expect(parsed.validation).toEqual({ constraints: {}, cast: "safe", on_invalid: "fail" });
    expect(parsed.passthrough).toEqual([]);
  });
});
