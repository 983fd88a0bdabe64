import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { loadSettings } from "../../src/config/load.js";
import { validateSettings } from "../../src/config/validate.js";
import { MlbatchError } from "../../src/errors.js";
import { settingsJsonSchema } from "../../src/settings.js";
import { BIKES } from "../helpers.js";

const EXAMPLE = join(BIKES, "confs", "inference.yaml");

async function configError(extras: string[]): Promise<string> {
  const error = await loadSettings([EXAMPLE], extras, {}).catch((e: unknown) => e);
  expect(error).toBeInstanceOf(MlbatchError);
  expect((error as MlbatchError).code).toBe("E_CONFIG");
  return (error as MlbatchError).message;
}

describe("validateSettings: what is allowed", () => {
  it.each([
    ["job: {outputs: {mode: 5}}", 'job.outputs.mode: 5 is not allowed; expected "error" or "overwrite"'],
    [
      "job: {alias_or_version: 2.5}",
      "job.alias_or_version: 2.5 is not allowed; expected an alias (a name such as Champion) or a version (a positive whole number)",
    ],
    ["job: {alias_or_version: 0}", "job.alias_or_version: 0 is not allowed; expected an alias"],
    [
      "job: {outputs: {compression: lz5}}",
      'job.outputs.compression: "lz5" is not allowed; expected "snappy", "zstd", "gzip", "lz4", "brotli" or "uncompressed"',
    ],
    [
      "job: {validation: {on_invalid: skip}}",
      'job.validation.on_invalid: "skip" is not allowed; expected "fail", "drop" or "quarantine"',
    ],
    ["job: {inputs: {limit: 2.5}}", "job.inputs.limit: 2.5 is not allowed; expected a positive whole number"],
    ["job: {batch_size: -1}", "job.batch_size: -1 is not allowed; expected a positive whole number"],
    [
      "job: {validation: {max_invalid_fraction: 1.5}}",
      "job.validation.max_invalid_fraction: 1.5 is not allowed; expected a number >= 0 and <= 1",
    ],
    [
      "job: {logger_service: {level: LOUD}}",
      'job.logger_service.level: "LOUD" is not allowed; expected "TRACE", "DEBUG",',
    ],
    [
      "job: {logger_service: {colorize: maybe}}",
      'job.logger_service.colorize: "maybe" is not allowed; expected a boolean (true or false)',
    ],
    [
      "job: {alerts_service: {timeout: 0}}",
      "job.alerts_service.timeout: 0 is not allowed; expected a positive whole number or null",
    ],
    [
      "job: {outputs: 5}",
      "job.outputs: 5 is not allowed; expected a mapping with KIND ParquetWriter, CsvWriter or JsonLinesWriter",
    ],
    ["job: {id_columns: [id, '']}", 'job.id_columns.1: "" is not allowed; expected a non-empty string'],
    [
      "job: {validation: {constraints: {hr: {isin: []}}}}",
      "job.validation.constraints.hr.isin: an empty list is not allowed; expected a list of at least 1 item, each a number, a string or a boolean (true or false)",
    ],
  ])(
    "given %s (expected failure), when validated, then the message says what is allowed",
    async (extra, expected) => {
      const message = await configError([extra]);
      expect(message).toContain(expected);
      expect(message).not.toContain("Invalid input");
    },
  );

  it("given a URL that is not one, when validated (expected failure), then what is allowed is said and the URL is not shown", async () => {
    const message = await configError([
      "job: {alerts_service: {channels: [{KIND: WebhookChannel, url: 'ftp//x.test/t0ken-123'}]}}",
    ]);
    expect(message).toContain(
      "job.alerts_service.channels.0.url: the value (not shown: it may be a secret) is not allowed; expected a URL",
    );
    expect(message).not.toContain("t0ken");
  });

  it("given a missing field, when validated (expected failure), then it says what is expected there", async () => {
    const message = await configError([
      "job: {alerts_service: {channels: [{KIND: EmailChannel, to: [a@x.test]}]}}",
    ]);
    expect(message).toContain("job.alerts_service.channels.0.host: missing; expected a non-empty string");
  });
});

type Node = Record<string, unknown>;
type Case = { path: (string | number)[]; kinds: [(string | number)[], string][]; bad: unknown };

/** One case per field of the schema: a value of the wrong type there, with the KINDs on the way set. */
function* wrongValues(node: Node, path: (string | number)[], kinds: Case["kinds"]): Generator<Case> {
  const options = (node.oneOf ?? node.anyOf) as Node[] | undefined;
  const kindOptions = options?.filter((o) => (o.properties as Node | undefined)?.KIND !== undefined);
  if (kindOptions !== undefined && kindOptions.length > 0) {
    for (const option of kindOptions) {
      const kind = ((option.properties as Node).KIND as Node).const as string;
      yield* wrongValues(option, path, [...kinds, [path, kind]]);
    }
    return;
  }
  if (node.type === "object" && node.properties !== undefined) {
    for (const [key, child] of Object.entries(node.properties as Record<string, Node>)) {
      if (key === "KIND") continue;
      const bad = [12.5, "x", true].find((value) => !accepts(child, value)) ?? { wrong: 1 };
      yield { path: [...path, key], kinds, bad };
      yield* wrongValues(child, [...path, key], kinds);
    }
  }
  if (node.type === "object" && (node.additionalProperties as Node | undefined)?.type === "object")
    yield* wrongValues(node.additionalProperties as Node, [...path, "some_key"], kinds);
  if (node.type === "array" && (node.items as Node | undefined)?.type !== "string")
    yield* wrongValues(node.items as Node, [...path, 0], kinds);
}

/** The node's type could take the value (its bounds aside). */
function accepts(node: Node, value: unknown): boolean {
  const options = (node.oneOf ?? node.anyOf) as Node[] | undefined;
  if (options !== undefined) return options.some((option) => accepts(option, value));
  const types = [node.type].flat();
  return types.includes(typeof value) || (typeof value === "number" && types.includes("integer"));
}

function setAt(config: unknown, path: (string | number)[], value: unknown): void {
  let parent = config as Record<string | number, unknown>;
  path.slice(0, -1).forEach((key, i) => {
    parent[key] ??= typeof path[i + 1] === "number" ? [] : {};
    parent = parent[key] as Record<string | number, unknown>;
  });
  parent[path.at(-1) as string | number] = value;
}

describe("validateSettings over the whole schema", () => {
  it("given a value of the wrong type in each field of each KIND (expected failure), then every message says what is allowed", () => {
    const example = parse(readFileSync(EXAMPLE, "utf8")) as unknown;
    const job = ((settingsJsonSchema().properties as Node).job as { oneOf: Node[] }).oneOf[0] as Node;
    const cases = [...wrongValues(job, ["job"], [])];
    expect(cases.length).toBeGreaterThan(60);
    for (const { path, kinds, bad } of cases) {
      const config = structuredClone(example);
      for (const [at, kind] of kinds) setAt(config, [...at, "KIND"], kind);
      setAt(config, path, bad);
      let message = "";
      try {
        validateSettings(config);
      } catch (error) {
        message = (error as MlbatchError).message;
      }
      const line = message.split("\n").find((l) => l.startsWith(`  - ${path.join(".")}: `));
      expect(line ?? `${path.join(".")} = ${JSON.stringify(bad)}: ${message}`).toMatch(
        / is not allowed; expected \S/,
      );
      expect(message).not.toContain("Invalid input");
    }
  });
});
