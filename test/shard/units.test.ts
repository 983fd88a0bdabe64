import { describe, expect, it } from "vitest";
import { MlbatchError } from "../../src/errors.js";
import { InferenceJobConfig } from "../../src/jobs/inference.js";
import { parseShardFlag, resolveShard } from "../../src/shard/detect.js";
import { planConfigHash } from "../../src/shard/plan.js";
import { assignUnits } from "../../src/shard/units.js";

function codeOf(work: () => unknown): string | undefined {
  try {
    work();
  } catch (error) {
    return error instanceof MlbatchError ? error.code : "not an MlbatchError";
  }
  return undefined;
}

describe("assignUnits", () => {
  const units = [9000, 100, 4000, 4000, 3000, 2500, 2500, 50, 7000, 0].map((rows, i) => ({
    id: String(i).padStart(5, "0"),
    rows,
  }));

  it("given units and a count, then every unit goes to exactly one shard, balanced by rows", () => {
    const shards = assignUnits(units, 4);
    expect(
      shards
        .flat()
        .map((u) => u.id)
        .sort(),
    ).toEqual(units.map((u) => u.id));
    const loads = shards.map((s) => s.reduce((n, u) => n + u.rows, 0));
    expect(Math.max(...loads) - Math.min(...loads)).toBeLessThanOrEqual(2000);
    // Largest first, each to the least-loaded shard: 9000 | 7000+100 | 4000+3000+50+0 | 4000+2500+2500.
    expect(loads).toEqual([9000, 7100, 7050, 9000]);
    for (const shard of shards) expect(shard.map((u) => u.id)).toEqual(shard.map((u) => u.id).sort());
  });

  it("given the units in another order, then the assignment is the same", () => {
    expect(assignUnits([...units].reverse(), 3)).toEqual(assignUnits(units, 3));
  });

  it("given more shards than units, then the extra shards get nothing", () => {
    expect(assignUnits(units.slice(0, 2), 4).map((s) => s.length)).toEqual([1, 1, 0, 0]);
  });
});

describe("resolveShard", () => {
  it("given no shard setting and no array-job variables, then the run is not sharded", () => {
    expect(resolveShard(undefined, {})).toBeUndefined();
  });

  it.each([
    [
      { JOB_COMPLETION_INDEX: "3", MLBATCH_SHARD_COUNT: "8" },
      { index: 3, count: 8 },
    ],
    [
      { AWS_BATCH_JOB_ARRAY_INDEX: "0", MLBATCH_SHARD_COUNT: "2" },
      { index: 0, count: 2 },
    ],
    [
      { CLOUD_RUN_TASK_INDEX: "4", CLOUD_RUN_TASK_COUNT: "5" },
      { index: 4, count: 5 },
    ],
    [
      { SLURM_ARRAY_TASK_ID: "3", SLURM_ARRAY_TASK_MIN: "1", SLURM_ARRAY_TASK_COUNT: "4" },
      { index: 2, count: 4 },
    ],
  ])("given the environment %o, then the shard is detected", (env, shard) => {
    expect(resolveShard(undefined, env)).toEqual(shard);
  });

  it("given job.shard, then its fields win over the environment", () => {
    expect(resolveShard({ count: 4 }, { JOB_COMPLETION_INDEX: "1", MLBATCH_SHARD_COUNT: "9" })).toEqual({
      index: 1,
      count: 4,
    });
  });

  it("given an index without a count, a count without an index, or an index out of range, then E_CONFIG", () => {
    expect(codeOf(() => resolveShard(undefined, { JOB_COMPLETION_INDEX: "1" }))).toBe("E_CONFIG");
    expect(codeOf(() => resolveShard({ count: 2 }, {}))).toBe("E_CONFIG");
    expect(codeOf(() => resolveShard({ index: 2, count: 2 }, {}))).toBe("E_CONFIG");
    expect(
      codeOf(() => resolveShard(undefined, { MLBATCH_SHARD_INDEX: "x", MLBATCH_SHARD_COUNT: "2" })),
    ).toBe("E_CONFIG");
  });

  it("given --shard i/n, then it parses, and malformed values are E_USAGE", () => {
    expect(parseShardFlag("2/4")).toEqual({ index: 2, count: 4 });
    for (const bad of ["4/4", "1", "-1/2", "a/b", "0/0"])
      expect(codeOf(() => parseShardFlag(bad))).toBe("E_USAGE");
  });
});

describe("planConfigHash", () => {
  const config = (extra: Record<string, unknown>) =>
    InferenceJobConfig.parse({
      KIND: "InferenceJob",
      inputs: { KIND: "ParquetReader", path: "in/" },
      outputs: { KIND: "ParquetWriter", path: "out/predictions" },
      ...extra,
    });

  it("given configs differing only in shard, report or logging, then the hash is the same", () => {
    expect(planConfigHash(config({ shard: { index: 0 }, report: "r0.json" }))).toBe(
      planConfigHash(config({ shard: { index: 3 }, logger_service: { level: "DEBUG" } })),
    );
  });

  it("given configs differing in what decides the outputs, then the hashes differ", () => {
    expect(planConfigHash(config({ batch_size: 10 }))).not.toBe(planConfigHash(config({})));
    expect(planConfigHash(config({ alias_or_version: 1 }))).not.toBe(planConfigHash(config({})));
  });
});
