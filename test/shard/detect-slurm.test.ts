/** Slurm's array variables as resolveShard reads them: the index from the first task id, contiguous ids only. */
import { describe, expect, it } from "vitest";
import { MlbatchError } from "../../src/errors.js";
import { resolveShard } from "../../src/shard/detect.js";

/** The variables Slurm sets in task `id` of `--array=<min>-<max>` with `count` tasks. */
const task = (id: number, min: number, max: number, count: number) => ({
  SLURM_ARRAY_TASK_ID: String(id),
  SLURM_ARRAY_TASK_MIN: String(min),
  SLURM_ARRAY_TASK_MAX: String(max),
  SLURM_ARRAY_TASK_COUNT: String(count),
  SLURM_ARRAY_TASK_STEP: "1",
});

describe("resolveShard with Slurm's array variables", () => {
  it("given --array=0-3 and --array=5-8 (with a throttle or not), then task ids map to shards 0 to 3", () => {
    expect([0, 1, 2, 3].map((id) => resolveShard(undefined, task(id, 0, 3, 4)))).toEqual(
      [0, 1, 2, 3].map((index) => ({ index, count: 4 })),
    );
    expect(resolveShard(undefined, task(8, 5, 8, 4))).toEqual({ index: 3, count: 4 });
  });

  it("given task ids with a step or gaps, then E_CONFIG says which --array to submit (expected failure)", () => {
    for (const env of [task(2, 0, 6, 4), task(0, 0, 5, 3)]) {
      let error: unknown;
      try {
        resolveShard(undefined, env);
      } catch (e) {
        error = e;
      }
      expect(error).toBeInstanceOf(MlbatchError);
      expect((error as MlbatchError).code).toBe("E_CONFIG");
      expect((error as MlbatchError).message).toMatch(/not contiguous .* submit with --array=0-\d/);
    }
  });
});
