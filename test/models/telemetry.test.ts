/** ONNX Runtime's telemetry is off: a run leaves nothing in HOME or TMPDIR. */
import { mkdirSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { BIKES, cli, removeDir, tempDir } from "../helpers.js";

let dir: string;
beforeEach(() => {
  dir = tempDir();
});
afterEach(() => removeDir(dir));

/** Every file under a folder, recursively (hidden ones included). */
function files(folder: string): string[] {
  return readdirSync(folder, { recursive: true, withFileTypes: true })
    .filter((e) => !e.isDirectory())
    .map((e) => join(e.parentPath, e.name));
}

describe("ONNX Runtime's telemetry", () => {
  it.each(["onnxruntime", "auto"])(
    "given a run with engine %s and fresh HOME and TMPDIR, when it finishes, then neither holds a file (no device id, event queue, .ses or mat-debug log)",
    (engine) => {
      const home = join(dir, "home");
      const tmp = join(dir, "tmp");
      mkdirSync(home);
      mkdirSync(tmp);
      const { code, stderr } = cli(
        [
          "run",
          join(BIKES, "confs", "inference.yaml"),
          "-e",
          `job: {outputs: {path: '${join(dir, "out.parquet")}'}, loader: {engine: ${engine}}}`,
        ],
        {
          env: {
            HOME: home,
            TMPDIR: tmp,
            XDG_CACHE_HOME: join(dir, "cache"),
            ORT_DISABLE_TELEMETRY: undefined,
          },
        },
      );
      expect(code, stderr).toBe(0);
      expect(files(home)).toEqual([]);
      expect(files(tmp)).toEqual([]);
    },
  );
});
