/**
 * The HTML run report in a real headless Chromium (Debian's `chromium`): the bikes job with the Champion
 * and version 1, drift against the training inputs over temp + 0.3. The page loads offline with no
 * console error and no request, its text holds the JSON report's figures, and its charts are drawn (the
 * screenshot has coloured pixels in each chart's box).
 */
import { copyFileSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { quotedString } from "../../src/data/sql.js";
import type { RunReport } from "../../src/report/run-report.js";
import {
  BIKES,
  EXAMPLE_REGISTRY,
  INPUTS_TEST,
  inferenceJob,
  python,
  query,
  removeDir,
  tempDir,
} from "../helpers.js";
import { Chromium, type Image, type PageLog } from "./chromium.js";

let dir: string;
let chromium: Chromium;
beforeAll(() => {
  dir = tempDir();
  chromium = Chromium.launch();
});
afterAll(async () => {
  await chromium?.close();
  removeDir(dir);
});

/** As the page prints a figure: four significant digits. */
function printed(value: number): string {
  return Number.isInteger(value) ? String(value) : String(Number(value.toPrecision(4)));
}

async function run(
  name: string,
  overrides: Record<string, unknown>,
): Promise<{ report: RunReport; html: string }> {
  const shifted = join(dir, "shifted.parquet");
  python(
    inject("python"),
    "import sys, pandas as pd\nd = pd.read_parquet(sys.argv[1]); d['temp'] += 0.3; d.to_parquet(sys.argv[2])",
    [INPUTS_TEST, shifted],
  );
  const { job } = inferenceJob({
    inputs: { KIND: "ParquetReader", path: shifted },
    outputs: { KIND: "ParquetWriter", path: join(dir, `${name}.parquet`) },
    mlflow_service: { registry_uri: EXAMPLE_REGISTRY, registry_name: "bikes" },
    report: join(dir, `${name}.json`),
    report_html: join(dir, `${name}.html`),
    ...overrides,
  });
  await job.execute().catch(() => undefined);
  return {
    report: JSON.parse(readFileSync(join(dir, `${name}.json`), "utf8")) as RunReport,
    html: join(dir, `${name}.html`),
  };
}

interface Box {
  readonly label: string;
  readonly x: number;
  readonly y: number;
  readonly width: number;
  readonly height: number;
}

async function load(html: string): Promise<{ session: string; log: PageLog; text: string; charts: Box[] }> {
  const { session, log } = await chromium.open(pathToFileURL(html).href, 1000, 800);
  const text = await chromium.evaluate<string>(session, "document.body.innerText");
  const charts = await chromium.evaluate<Box[]>(
    session,
    `[...document.querySelectorAll("svg.chart")].map((s) => { const r = s.getBoundingClientRect();
      return { label: s.getAttribute("aria-label"), x: r.x + scrollX, y: r.y + scrollY, width: r.width, height: r.height }; })`,
  );
  return { session, log, text, charts };
}

/** The share of a box's pixels that are neither white nor grey (the bars' colours). */
function colouredShare(image: Image, box: Box): number {
  let coloured = 0;
  let all = 0;
  for (let y = Math.floor(box.y); y < Math.min(image.height, box.y + box.height); y++) {
    for (let x = Math.floor(box.x); x < Math.min(image.width, box.x + box.width); x++) {
      const i = (y * image.width + x) * 4;
      const [r, g, b] = [image.rgba[i]!, image.rgba[i + 1]!, image.rgba[i + 2]!];
      if (Math.max(r, g, b) - Math.min(r, g, b) > 40) coloured++;
      all++;
    }
  }
  return all === 0 ? 0 : coloured / all;
}

function expectClean(log: PageLog, html: string): void {
  expect(log.exceptions).toEqual([]);
  expect(log.console.filter((m) => m.type === "error" || m.type === "warning")).toEqual([]);
  expect(log.entries.filter((e) => e.level === "error" || e.level === "warning")).toEqual([]);
  // Offline: the page itself is the only request.
  expect(log.requests).toEqual([pathToFileURL(html).href]);
}

describe("HTML run report in headless Chromium", () => {
  it("given Champion, Challenger and drift, then the page loads offline, holds the report's figures and draws its charts", async () => {
    const { report, html } = await run("both", {
      challenger: { alias_or_version: 1 },
      drift: { reference: join(BIKES, "data", "inputs_train.parquet") },
    });
    expect(report.status).toBe("success");
    const source = readFileSync(html, "utf8");
    // Self-contained and light: no script, no link or source fetched, tens of KB.
    expect(source).not.toMatch(/<script|<link|<img|src=|href=|@import|url\(/i);
    expect(statSync(html).size).toBeLessThan(100_000);

    const { session, log, text, charts } = await load(html);
    expectClean(log, html);
    // The job's facts and rows.
    expect(text).toContain("models:/bikes@Champion (version 2)");
    expect(text).toMatch(/read\s+written\s+rejected\s+3476\s+3476\s+0/);
    for (const step of ["load", "predict", "write", "drift"])
      expect(text).toContain(printed(report.durations[step]!));
    // Drift per column, as the JSON report has it.
    const drift = report.drift!;
    for (const [name, column] of Object.entries(drift.columns)) {
      expect(text).toMatch(
        new RegExp(
          `${name}\\s+${printed(column.psi)}\\s+${printed(column.js_distance)}\\s+${column.drifted ? "drifted" : column.level}`,
        ),
      );
    }
    expect(text).toMatch(/temp\s+\S+\s+\S+\s+drifted/);
    // Champion against Challenger.
    const p = report.challenger!.outputs.prediction!;
    expect(text).toContain("Challenger: models:/bikes/1 (version 1)");
    expect(text).toMatch(
      new RegExp(
        `prediction\\s+3476\\s+${printed(p.mean_abs_diff!)}\\s+${printed(p.max_abs_diff!)}\\s+${printed(p.correlation!)}`,
      ),
    );
    const top = p.top_differences[0]!;
    expect(text).toContain(`instant=${top.ids.instant}`);
    // The input profile.
    const temp = report.profile!.columns.temp!;
    expect(temp.kind).toBe("numeric");
    if (temp.kind === "numeric")
      expect(text).toMatch(
        new RegExp(`temp\\s+numeric\\s+3476\\s+0\\s+${printed(temp.min!)}\\s+${printed(temp.max!)}`),
      );

    // Charts: step timings, one per drifted-or-not column, the predictions, champion and challenger.
    expect(charts.length).toBe(1 + Object.keys(drift.columns).length + 1 + 1);
    const height = await chromium.evaluate<number>(session, "document.documentElement.scrollHeight");
    await chromium.send(
      "Emulation.setDeviceMetricsOverride",
      { width: 1000, height, deviceScaleFactor: 1, mobile: false },
      session,
    );
    const image = await chromium.screenshot(session);
    expect(image.width).toBe(1000);
    for (const chart of charts) {
      expect(chart.width, chart.label).toBeGreaterThan(100);
      expect(colouredShare(image, chart), chart.label).toBeGreaterThan(0.01);
    }
    // Outside the charts the page is mostly white: the colour is where the SVG is.
    expect(colouredShare(image, { label: "margin", x: 0, y: 0, width: 8, height })).toBe(0);
  });

  it("given a run that fails on drift, then the page shows the failure and the drift that caused it", async () => {
    const { report, html } = await run("failed", {
      drift: { reference: join(BIKES, "data", "inputs_train.parquet"), on_drift: "fail" },
    });
    expect(report.status).toBe("failure");
    const { log, text } = await load(html);
    expectClean(log, html);
    expect(text).toContain("Inference Job: failure");
    expect(text).toContain(`[E_DRIFT] step validate: ${report.error!.message}`);
    expect(text).toMatch(/temp\s+\S+\s+\S+\s+drifted/);
  });

  it("given report_html or report at the inputs' path, then the run is refused and neither report replaces the inputs", async () => {
    const inputs = join(dir, "inputs.parquet");
    copyFileSync(INPUTS_TEST, inputs);
    const size = statSync(inputs).size;
    for (const key of ["report_html", "report"]) {
      const { job } = inferenceJob({
        inputs: { KIND: "ParquetReader", path: inputs },
        outputs: { KIND: "ParquetWriter", path: join(dir, "apart.parquet") },
        mlflow_service: { registry_uri: EXAMPLE_REGISTRY, registry_name: "bikes" },
        [key]: inputs,
      });
      const error = await job.execute().catch((e: unknown) => e);
      expect(error).toMatchObject({
        code: "E_CONFIG",
        message: expect.stringContaining(`job.${key} "${inputs}" is the input`),
      });
      expect(statSync(inputs).size, key).toBe(size);
    }
  });

  it("given inputs that fail validation, then the page lists each problem with its count, as the JSON report has it", async () => {
    const { report, html } = await run("invalid", {
      validation: { constraints: { temp: { le: 1 } }, on_invalid: "fail" },
    });
    expect(report.error!.code).toBe("E_SCHEMA");
    const [{ n }] = (await query(
      `SELECT count(*) AS n FROM ${quotedString(INPUTS_TEST)} WHERE temp + 0.3 > 1`,
    )) as [{ n: bigint }];
    expect(report.validation).toMatchObject({ valid: false, rows: { total: 3476, invalid: Number(n) } });
    expect(report.validation!.problems).toEqual([
      expect.objectContaining({ column: "temp", check: "le", count: Number(n) }),
    ]);
    const { log, text } = await load(html);
    expectClean(log, html);
    expect(text).toContain(`invalid rows: ${n} of 3476 rows invalid`);
    expect(text).toMatch(new RegExp(`temp\\s+le\\s+constraints\\s+${n}\\s`));
  });
});
