import { describe, expect, it } from "vitest";
import { MlbatchError } from "../../src/errors.js";
import { modelReference, modelUri, parseModelUri } from "../../src/registry/model-uri.js";

describe("model URIs", () => {
  it("given an alias or a version, when referenced, then strings of digits are versions", () => {
    expect(modelReference("bikes", "Champion")).toEqual({ name: "bikes", alias: "Champion" });
    expect(modelReference("bikes", 3)).toEqual({ name: "bikes", version: 3 });
    expect(modelReference("bikes", "3")).toEqual({ name: "bikes", version: 3 });
  });

  it("given references, when formatted and parsed, then they round-trip (split on the last @)", () => {
    for (const ref of [
      { name: "bikes", alias: "Champion" },
      { name: "team@bikes", alias: "prod" },
      { name: "bikes", version: 12 },
    ] as const) {
      expect(parseModelUri(modelUri(ref))).toEqual(ref);
    }
  });

  it("given a malformed URI, when parsed, then E_CONFIG explains the expected forms", () => {
    expect(() => parseModelUri("runs:/abc")).toThrow(MlbatchError);
    expect(() => parseModelUri("models:/bikes")).toThrow(/models:\/<name>@<alias>/);
  });
});
