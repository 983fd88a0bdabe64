import { describe, expect, it } from "vitest";
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
        { intra_op_num_threads: 2, graph_optimization_level: "disabled" },
        { intra_op_num_threads: 1, graph_optimization_level: 99 },
      ),
    ).toEqual({
      intraOpNumThreads: 2,
      graphOptimizationLevel: "disabled",
    });
  });

  it("given 0 threads, then ONNX Runtime chooses (one per core)", () => {
    expect(sessionOptions({ intra_op_num_threads: 0 }, { intra_op_num_threads: 3 })).toEqual({});
  });
});
