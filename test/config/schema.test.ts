import { describe, expect, it } from "vitest";
import { settingsJsonSchema } from "../../src/settings.js";

describe("settingsJsonSchema", () => {
  it("describes every KIND with its fields and defaults, usable by editors", () => {
    const schema = JSON.stringify(settingsJsonSchema());
    for (const kind of [
      "InferenceJob",
      "ParquetReader",
      "CsvReader",
      "JsonLinesReader",
      "ParquetWriter",
      "CsvWriter",
      "JsonLinesWriter",
      "CustomLoader",
      "BuiltinLoader",
    ]) {
      expect(schema).toContain(`"const":"${kind}"`);
    }
    expect(schema).toContain('"default":"Champion"');
    expect(schema).toContain('"additionalProperties":false');
  });
});
