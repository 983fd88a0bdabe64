import { describe, expect, it } from "vitest";
import { createLoader, LoaderKind } from "../../src/models/loaders/index.js";
import { loaderOptions } from "../../src/models/loaders/loader-options.js";
import { sessionOptions } from "../../src/models/session-options.js";

describe("sessionOptions", () => {
  it("given nothing, then ONNX Runtime's defaults are kept", () => {
    expect(sessionOptions({}, undefined)).toEqual({});
  });

  it("given MLflow's onnx_session_options, then they are honoured, with ONNX Runtime's numeric levels", () => {
    expect(
      sessionOptions(
        {},
        {
          intra_op_num_threads: 1,
          inter_op_num_threads: 2,
          execution_mode: "parallel",
          graph_optimization_level: 99,
        },
      ),
    ).toEqual({
      intraOpNumThreads: 1,
      interOpNumThreads: 2,
      executionMode: "parallel",
      graphOptimizationLevel: "all",
    });
    expect(sessionOptions({}, { graph_optimization_level: 1 }).graphOptimizationLevel).toBe("basic");
  });

  it("given the loader's options, then they win over the model's", () => {
    expect(
      sessionOptions(
        { intraOpNumThreads: 2, graphOptimizationLevel: "disabled" },
        { intra_op_num_threads: 1, graph_optimization_level: 99 },
      ),
    ).toEqual({
      intraOpNumThreads: 2,
      graphOptimizationLevel: "disabled",
    });
  });

  it("given 0 threads, then ONNX Runtime chooses (one per core)", () => {
    expect(sessionOptions({ intraOpNumThreads: 0 }, { intra_op_num_threads: 3 })).toEqual({});
  });
});

describe("loader options at the config boundary", () => {
  it("given a loader config with snake_case keys, then the TypeScript API gets them camelCase, with the schema's defaults", () => {
    const config = LoaderKind.parse({
      KIND: "CustomLoader",
      intra_op_num_threads: 2,
      inter_op_num_threads: 1,
      execution_mode: "parallel",
      graph_optimization_level: "basic",
      engine: "trees",
      engine_threads: 3,
      feature_columns: ["a", "b"],
    });
    const { KIND: _, ...options } = config;
    expect(loaderOptions(options)).toEqual({
      intraOpNumThreads: 2,
      interOpNumThreads: 1,
      executionMode: "parallel",
      graphOptimizationLevel: "basic",
      engine: "trees",
      engineThreads: 3,
      featureColumns: ["a", "b"],
      forestCache: { enable: true },
    });
    expect(createLoader(config).constructor.name).toBe("CustomLoader");
  });

  it("given an unknown or camelCase key in a loader config, then the schema refuses it", () => {
    expect(LoaderKind.safeParse({ KIND: "CustomLoader", intraOpNumThreads: 2 }).success).toBe(false);
    expect(LoaderKind.safeParse({ KIND: "BuiltinLoader", forest_cache: { enabled: true } }).success).toBe(
      false,
    );
  });
});
