import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import {
  BIKES,
  cli,
  EXAMPLE_REGISTRY,
  INPUTS_TEST,
  query,
  ROOT,
  removeDir,
  reportedError,
  tempDir,
} from "./helpers.js";

const REFERENCE = join(ROOT, "test", "fixtures", "confs", "valid", "reference.yaml");
const INVALID = join(ROOT, "test", "fixtures", "confs", "invalid");
const EXAMPLE = join(BIKES, "confs", "inference.yaml");

let dir: string;
beforeEach(() => {
  dir = tempDir();
});
afterEach(() => removeDir(dir));

/** Extras that send the example's outputs to the temporary folder. */
function outputTo(path: string): string[] {
  return ["-e", `job: {outputs: {path: '${path}'}}`];
}

describe("mlbatch CLI", () => {
  it("given --version, then it prints the package version", () => {
    const { code, stdout } = cli(["--version"]);
    expect(code).toBe(0);
    expect(stdout.trim()).toMatch(/^\d+\.\d+\.\d+$/);
  });

  it("given --help, then it prints usage with exit code 0; without command, exit code 2", () => {
    expect(cli(["--help"])).toMatchObject({
      code: 0,
      stdout: expect.stringContaining("mlbatch run <config.yaml>"),
    });
    expect(cli([]).code).toBe(2);
  });

  it("given an unknown command or option, then exit code 2 with a usage hint", () => {
    const unknown = cli(["deploy"]);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain('[E_USAGE]: unknown command "deploy"');
    expect(cli(["run", EXAMPLE, "--fast"]).code).toBe(2);
    expect(cli(["run"]).code).toBe(2);
  });

  it("given schema, then it prints a JSON Schema of the settings", () => {
    const { code, stdout } = cli(["schema"]);
    expect(code).toBe(0);
    const schema = JSON.parse(stdout) as { $schema: string; properties: { job: unknown } };
    expect(schema.$schema).toContain("json-schema.org");
    expect(JSON.stringify(schema.properties.job)).toContain("ParquetReader");
  });

  it("given the example config, then it predicts and prints the finished notification with the shape", async () => {
    const output = join(dir, "predictions.parquet");
    const { code, stdout, stderr } = cli(["run", EXAMPLE, ...outputTo(output)]);
    expect(stderr).not.toContain("error");
    expect(code).toBe(0);
    expect(stdout).toBe("[Bikes] Inference Job Finished: Outputs Shape: (3476, 2)\n");
    expect(await query(`SELECT count(*)::INT AS n FROM '${output}'`)).toEqual([{ n: 3476 }]);
  });

  it("given -e alias_or_version 1, then version 1 predicts differently from Champion", async () => {
    const champion = join(dir, "champion.parquet");
    const v1 = join(dir, "v1.parquet");
    expect(cli(["run", EXAMPLE, ...outputTo(champion)]).code).toBe(0);
    expect(cli(["run", EXAMPLE, ...outputTo(v1), "-e", "job: {alias_or_version: 1}"]).code).toBe(0);
    const [diff] = await query(
      `SELECT (count(*) FILTER (WHERE a.prediction <> b.prediction))::INT AS different FROM '${champion}' a POSITIONAL JOIN '${v1}' b`,
    );
    expect(Number(diff!.different)).toBeGreaterThan(3000);
  });

  it("given the reference package's config in another working directory, then it runs merged over the example registry", async () => {
    mkdirSync(join(dir, "data"));
    cpSync(INPUTS_TEST, join(dir, "data", "inputs_test.parquet"));
    const { code, stdout } = cli(
      ["run", REFERENCE, "-e", `job: {mlflow_service: {registry_uri: '${EXAMPLE_REGISTRY}'}}`],
      { cwd: dir },
    );
    expect(code).toBe(0);
    expect(stdout).toContain("Inference Job Finished: Outputs Shape: (3476, 2)");
    expect(existsSync(join(dir, "outputs", "predictions_test.parquet"))).toBe(true);
  });

  it("given the reference config unchanged next to a copied store, then MLflow's default sqlite:///mlflow.db is used", () => {
    for (const entry of ["mlflow.db", "mlruns", "data"])
      cpSync(join(BIKES, entry), join(dir, entry), { recursive: true });
    const { code } = cli(["run", REFERENCE], {
      cwd: dir,
      env: { MLFLOW_TRACKING_URI: "", MLFLOW_REGISTRY_URI: "" },
    });
    expect(code).toBe(0);
    expect(existsSync(join(dir, "outputs", "predictions_test.parquet"))).toBe(true);
  });

  it("given MLFLOW_TRACKING_URI, then it is the registry when the config names none", () => {
    mkdirSync(join(dir, "data"));
    cpSync(INPUTS_TEST, join(dir, "data", "inputs_test.parquet"));
    const { code } = cli(["run", REFERENCE], { cwd: dir, env: { MLFLOW_TRACKING_URI: EXAMPLE_REGISTRY } });
    expect(code).toBe(0);
  });

  it("given the example config run twice into the same output, then both runs succeed (its mode is overwrite)", () => {
    const output = join(dir, "predictions.parquet");
    expect(cli(["run", EXAMPLE, ...outputTo(output)]).code).toBe(0);
    expect(cli(["run", EXAMPLE, ...outputTo(output)]).code).toBe(0);
  });

  it("given mode error and an existing output, then exit 1 with E_WRITE and the file untouched", () => {
    const output = join(dir, "predictions.parquet");
    writeFileSync(output, "keep");
    const { code, stderr } = cli([
      "run",
      EXAMPLE,
      ...outputTo(output),
      "-e",
      "job: {outputs: {mode: error}}",
    ]);
    expect(code).toBe(1);
    expect(reportedError(stderr)).toContain("[E_WRITE] (step: write)");
    expect(readFileSync(output, "utf8")).toBe("keep");
  });

  it("given validate on the example, then exit 0 with a summary on stdout, and nothing written", () => {
    const output = join(dir, "predictions.parquet");
    const { code, stdout } = cli(["validate", EXAMPLE, ...outputTo(output)]);
    expect(code).toBe(0);
    expect(stdout).toMatch(
      /^inputs "examples\/bikes\/data\/inputs_test.parquet" are valid for model models:\/bikes\/2/,
    );
    expect(readdirSync(dir)).toEqual([]);
  });

  it("given validate on invalid CSV data, then exit 1 with every problem, and the JSON report written", async () => {
    const report = join(dir, "report.json");
    const { code, stdout, stderr } = cli([
      "validate",
      EXAMPLE,
      join(BIKES, "confs", "from-csv.yaml"),
      ...outputTo(join(dir, "predictions.parquet")),
      "-e",
      `job: {inputs: {path: test/fixtures/data/inputs_invalid.csv}, validation: {report: '${report}'}}`,
    ]);
    expect(code).toBe(1);
    expect(stdout).toBe("");
    expect(reportedError(stderr)).toContain("[E_SCHEMA] (step: validate)");
    for (const column of ["season", "hr", "temp", "dteday"])
      expect(reportedError(stderr)).toContain(`column "${column}"`);
    expect(JSON.parse(readFileSync(report, "utf8"))).toMatchObject({ valid: false, rows: { invalid: 11 } });
    expect(readdirSync(dir)).toEqual(["report.json"]);
  });

  describe("bad inputs: right exit code, a clear message, no output file", () => {
    /** Runs from the repository root (the example's paths are relative to it), outputs going to `dir`. */
    function expectFailure(args: string[], code: number, message: string) {
      const before = readdirSync(dir);
      const result = cli(args);
      expect(result.code).toBe(code);
      expect(reportedError(result.stderr)).toContain(message);
      // Nothing new in the output folder: no predictions, no temporary file.
      expect(readdirSync(dir)).toEqual(before);
      return result;
    }

    it("unknown KIND -> 2", () => {
      expectFailure(
        ["run", join(INVALID, "unknown-kind.yaml")],
        2,
        'job.inputs.KIND: unknown kind "NoSuchReader", expected one of ParquetReader',
      );
    });

    it("unknown key -> 2", () => {
      expectFailure(["run", join(INVALID, "unknown-key.yaml")], 2, "job.inputs.sheet: unknown key");
    });

    it("missing config file -> 2", () => {
      expectFailure(["run", join(dir, "nope.yaml")], 2, "cannot read config file");
    });

    it("missing input file -> 1, with a failure notification", () => {
      const result = expectFailure(
        [
          "run",
          EXAMPLE,
          ...outputTo(join(dir, "predictions.parquet")),
          "-e",
          "job: {inputs: {path: missing.parquet}}",
        ],
        1,
        '[E_READ] (step: read): cannot read inputs "missing.parquet": no such file',
      );
      expect(result.stdout).toContain("[Bikes] Inference Job Failed: [E_READ]");
    });

    it("corrupt Parquet -> 1", () => {
      writeFileSync(join(dir, "corrupt.parquet"), "PAR1 not really PAR1");
      expectFailure(
        [
          "run",
          EXAMPLE,
          ...outputTo(join(dir, "predictions.parquet")),
          "-e",
          `job: {inputs: {path: '${join(dir, "corrupt.parquet")}'}}`,
        ],
        1,
        "not a readable Parquet file",
      );
    });

    it("missing column -> 1", async () => {
      const path = join(dir, "no-season.parquet");
      await query(`COPY (SELECT * EXCLUDE (season) FROM '${INPUTS_TEST}') TO '${path}'`);
      expectFailure(
        [
          "run",
          EXAMPLE,
          ...outputTo(join(dir, "predictions.parquet")),
          "-e",
          `job: {inputs: {path: '${path}'}}`,
        ],
        1,
        'column "season" is missing',
      );
    });

    it("unknown alias -> 1, listing the aliases", () => {
      expectFailure(
        [
          "run",
          EXAMPLE,
          ...outputTo(join(dir, "predictions.parquet")),
          "-e",
          "job: {alias_or_version: NoSuchAlias}",
        ],
        1,
        'alias "NoSuchAlias" not found for model "bikes"; aliases: Challenger -> 1, Champion -> 2',
      );
    });

    it("unknown version -> 1, listing the versions", () => {
      expectFailure(
        ["run", EXAMPLE, ...outputTo(join(dir, "predictions.parquet")), "-e", "job: {alias_or_version: 9}"],
        1,
        'version 9 not found for model "bikes"; versions: 1, 2',
      );
    });

    it("unreachable registry -> 1, naming the URI", () => {
      expectFailure(
        [
          "run",
          EXAMPLE,
          ...outputTo(join(dir, "predictions.parquet")),
          "-e",
          "job: {mlflow_service: {registry_uri: 'sqlite:///no/such/mlflow.db'}}",
        ],
        1,
        "registry sqlite:///no/such/mlflow.db is unreachable",
      );
    });
  });
});
