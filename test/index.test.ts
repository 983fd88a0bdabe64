import { describe, expect, it } from "vitest";
import * as mlbatch from "../src/index.js";

describe("the public API", () => {
  it("exports the entry points the guide documents", () => {
    for (const name of [
      "loadSettings",
      "createJob",
      "InferenceJob",
      "InferenceJobConfig",
      "ShardedInferenceJob",
      "MlbatchError",
      "openRegistry",
      "logRun",
      "settingsJsonSchema",
      "webhookSignature",
    ]) {
      expect(mlbatch, name).toHaveProperty(name);
    }
  });

  it("given a webhook body and secret, then the signature is the documented sha256 HMAC", async () => {
    const { createHmac } = await import("node:crypto");
    const body = '{"event":"finished"}';
    expect(mlbatch.webhookSignature("s3cret", body)).toBe(
      `sha256=${createHmac("sha256", "s3cret").update(body).digest("hex")}`,
    );
  });
});
