import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { loadSettings } from "../../src/config/load.js";
import { MlbatchError } from "../../src/errors.js";
import { removeDir, tempDir } from "../helpers.js";

const REFERENCE = `job:
  KIND: InferenceJob
  inputs:
    KIND: ParquetReader
    path: data/inputs_test.parquet
  outputs:
    KIND: ParquetWriter
    path: outputs/predictions_test.parquet
`;

let dir: string | undefined;
afterEach(() => {
  if (dir) removeDir(dir);
  dir = undefined;
});

function file(name: string, text: string): string {
  dir ??= tempDir();
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
}

async function configError(
  files: string[],
  extras: string[] = [],
  env: NodeJS.ProcessEnv = {},
): Promise<MlbatchError> {
  const error = await loadSettings(files, extras, env).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(MlbatchError);
  expect((error as MlbatchError).code).toBe("E_CONFIG");
  return error as MlbatchError;
}

describe("loadSettings", () => {
  it("given the reference package's config, when loaded, then optional fields take their defaults", async () => {
    const settings = await loadSettings([file("inference.yaml", REFERENCE)]);
    expect(settings.job).toMatchObject({
      KIND: "InferenceJob",
      inputs: { KIND: "ParquetReader", path: "data/inputs_test.parquet" },
      outputs: { KIND: "ParquetWriter", path: "outputs/predictions_test.parquet" },
      alias_or_version: "Champion",
      loader: { KIND: "CustomLoader" },
      alerts_service: { enable: true },
      mlflow_service: { registry_name: "bikes" },
    });
  });

  it("given files and extras, when merged, then later values win and mappings merge key by key", async () => {
    const base = file("base.yaml", REFERENCE);
    const over = file("over.yaml", "job:\n  inputs:\n    limit: 10\n  alias_or_version: Challenger\n");
    const settings = await loadSettings(
      [base, over],
      ["job: {alias_or_version: 3}", "job: {loader: {KIND: BuiltinLoader}}"],
    );
    expect(settings.job.inputs).toEqual({
      KIND: "ParquetReader",
      path: "data/inputs_test.parquet",
      limit: 10,
    });
    expect(settings.job.alias_or_version).toBe(3);
    expect(settings.job.loader).toEqual({ KIND: "BuiltinLoader" });
  });

  it("given lists in two configs, when merged, then the later list replaces the earlier one", async () => {
    const settings = await loadSettings(
      [file("a.yaml", `${REFERENCE}  id_columns: [a, b]\n`)],
      ["job: {id_columns: [c]}"],
    );
    expect(settings.job.id_columns).toEqual(["c"]);
  });

  it("given oc.env interpolations, when loaded, then variables and defaults are substituted", async () => {
    const text = REFERENCE.replace("data/inputs_test.parquet", "${oc.env:DATA_DIR}/in.parquet").replace(
      "outputs/predictions_test.parquet",
      "${oc.env:OUT_PATH,out/default.parquet}",
    );
    const settings = await loadSettings(
      [file("env.yaml", text)],
      ["job: {alias_or_version: '${oc.env:VERSION}'}"],
      {
        DATA_DIR: "/data",
        VERSION: "2",
      },
    );
    expect(settings.job.inputs.path).toBe("/data/in.parquet");
    expect(settings.job.outputs.path).toBe("out/default.parquet");
    expect(settings.job.alias_or_version).toBe(2);
  });

  it("given an unset variable without default, when loaded, then the error names the variable and the path", async () => {
    const error = await configError([
      file("env.yaml", REFERENCE.replace("data/inputs_test.parquet", "${oc.env:NOPE}")),
    ]);
    expect(error.message).toContain("job.inputs.path");
    expect(error.message).toContain("NOPE is not set");
  });

  it("given an unsupported interpolation, when loaded, then it fails naming it", async () => {
    const error = await configError([
      file("x.yaml", REFERENCE.replace("data/inputs_test.parquet", "${job.other}")),
    ]);
    expect(error.message).toContain('unsupported interpolation "${job.other}"');
  });

  it("given an unknown KIND, when validated, then the error names the path and the known kinds", async () => {
    const error = await configError([file("x.yaml", REFERENCE)], ["job: {inputs: {KIND: NoSuchReader}}"]);
    expect(error.message).toContain(
      'job.inputs.KIND: unknown kind "NoSuchReader", expected one of ParquetReader',
    );
  });

  it("given an unknown job KIND, when validated, then the error names job.KIND", async () => {
    const error = await configError([file("x.yaml", REFERENCE)], ["job: {KIND: TrainingJob}"]);
    expect(error.message).toContain('job.KIND: unknown kind "TrainingJob", expected one of InferenceJob');
  });

  it("given an unknown key, when validated, then the error names its full path", async () => {
    const error = await configError([file("x.yaml", REFERENCE)], ["job: {outputs: {compresion: zstd}}"]);
    expect(error.message).toContain("job.outputs.compresion: unknown key");
  });

  it("given a missing required field, when validated, then the error names it as missing", async () => {
    const error = await configError([
      file("x.yaml", "job: {KIND: InferenceJob, inputs: {KIND: ParquetReader}}"),
    ]);
    expect(error.message).toContain("job.inputs.path: missing");
    expect(error.message).toContain("job.outputs: missing");
  });

  it("given an invalid alias_or_version, when validated, then it is rejected", async () => {
    const error = await configError([file("x.yaml", REFERENCE)], ["job: {alias_or_version: 1.5}"]);
    expect(error.message).toContain("job.alias_or_version");
  });

  it("given a missing config file, when loaded, then the error names the file", async () => {
    const error = await configError(["does/not/exist.yaml"]);
    expect(error.message).toContain('cannot read config file "does/not/exist.yaml": no such file');
  });

  it("given invalid YAML, when loaded, then the error names the file and line", async () => {
    const path = file("bad.yaml", "job:\n  KIND: [unclosed\n");
    const error = await configError([path]);
    expect(error.message).toContain(`config file "${path}" is not valid YAML`);
  });

  it("given an extra that is not a mapping, when loaded, then the error names the extra", async () => {
    const error = await configError([file("x.yaml", REFERENCE)], ["just a string"]);
    expect(error.message).toContain("-e #1 must be a YAML mapping");
  });
});
