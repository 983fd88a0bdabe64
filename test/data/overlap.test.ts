/** Outputs are never inputs: the same file, inside an input folder or glob, or a folder holding them. */
import { mkdirSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { checkOutputsApart } from "../../src/data/overlap.js";
import { failure, removeDir, tempDir } from "../helpers.js";

let dir: string;
beforeEach(() => {
  dir = tempDir();
  mkdirSync(join(dir, "data", "day=1"), { recursive: true });
  writeFileSync(join(dir, "data", "day=1", "part-0.parquet"), "");
  writeFileSync(join(dir, "in.parquet"), "");
});
afterEach(() => removeDir(dir));

const refused: [string, string, string, string][] = [
  ["the same file", "in.parquet", "in.parquet", "is the input"],
  ["the same file by another spelling", "in.parquet", "./sub/../in.parquet", "is the input"],
  ["the same file through a symlink", "in.parquet", "link.parquet", "is the input"],
  ["a file inside an input folder", "data", "data/predictions.parquet", "is inside the input"],
  ["an input folder itself", "data", "data", "is the input"],
  ["a folder holding the input file", "in.parquet", ".", "holds the input"],
  ["a folder holding the input folder", "data/day=1", "data", "holds the input"],
  ["a name the input glob matches", "data/*/*.parquet", "data/day=2/out.parquet", "is inside the input"],
  ["a parts folder whose parts the glob matches", "data/**/*.parquet", "data/out", "is inside the input"],
  ["a folder holding the glob", "data/*/*.parquet", "data", "holds the input"],
];

describe("outputs apart from inputs", () => {
  it.each(refused)(
    "given %s, when checked, then E_CONFIG says how it overlaps",
    async (_, input, output, how) => {
      symlinkSync(join(dir, "in.parquet"), join(dir, "link.parquet"));
      mkdirSync(join(dir, "sub"));
      const cwd = process.cwd();
      process.chdir(dir);
      try {
        const outputs = [{ key: "outputs.path", path: output, folder: !output.includes(".") }];
        const error = await failure(checkOutputsApart(input, outputs));
        expect(error.code).toBe("E_CONFIG");
        expect(error.message).toContain(`job.outputs.path "${output}" ${how} (job.inputs.path "${input}")`);
      } finally {
        process.chdir(cwd);
      }
    },
  );

  it.each([
    ["in.parquet", "out.parquet"],
    ["data", "predictions.parquet"],
    ["data/*/*.parquet", "data/out.csv"],
    ["data/*/*.parquet", "predictions/part"],
  ])("given input %s and output %s, when checked, then it passes", async (input, output) => {
    await checkOutputsApart(join(dir, input), [{ key: "outputs.path", path: join(dir, output) }]);
  });

  it("given the quarantine at the outputs' path, when checked, then E_CONFIG names both", async () => {
    const error = await failure(
      checkOutputsApart(join(dir, "in.parquet"), [
        { key: "outputs.path", path: join(dir, "out.parquet") },
        { key: "validation.quarantine.path", path: join(dir, "out.parquet") },
      ]),
    );
    expect(error.code).toBe("E_CONFIG");
    expect(error.message).toContain("job.validation.quarantine.path");
    expect(error.message).toContain("job.outputs.path");
  });
});
