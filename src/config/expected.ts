import { settingsJsonSchema } from "../settings.js";
import type { ConfigPath } from "./interpolate.js";
import { isMapping } from "./merge.js";

/** A node of the settings' JSON Schema. */
type Node = Record<string, unknown>;

/**
 * How a few fields are named in messages where their schema alone says too little (an alias is any
 * non-empty string), by key.
 */
const WORDS: Record<string, string> = {
  alias_or_version: "an alias (a name such as Champion) or a version (a positive whole number)",
};

let root: Node | undefined;

/** What the schema says of a config field. */
export interface Field {
  /** What is allowed, for people: `"error" or "overwrite"`, `a positive whole number`. */
  readonly expected: string;
  /** Its value may be a secret (a URL, a password, a header): messages do not show it. */
  readonly secret: boolean;
}

/**
 * What the settings schema allows at a config path: `"error" or "overwrite"`, `a positive whole number`,
 * `a mapping with KIND ParquetWriter, CsvWriter or JsonLinesWriter`. Read from the JSON Schema of the
 * settings (the one `mlbatch schema` prints), so it holds for every field.
 *
 * @param path - the path of the value, as zod reports it
 * @param config - the config, to follow `KIND` through the discriminated unions
 * @returns the field, or undefined when the path is not in the schema
 */
export function fieldAt(path: ConfigPath, config: unknown): Field | undefined {
  const node = nodeAt(path, config);
  if (node === undefined) return undefined;
  const last = path.at(-1);
  // The schema says which fields hold secrets ("a secret: take it from the environment"); URLs and
  // headers may hold tokens.
  const secret =
    node.format === "uri" || /secret/i.test(String(node.description ?? "")) || path.includes("headers");
  return { expected: (typeof last === "string" ? WORDS[last] : undefined) ?? describe(node), secret };
}

function nodeAt(path: ConfigPath, config: unknown): Node | undefined {
  root ??= settingsJsonSchema();
  let node: Node | undefined = root;
  let value = config;
  for (const key of path) {
    if (node === undefined) return undefined;
    node = childOf(node, key, value);
    value = isMapping(value) || Array.isArray(value) ? (value as Record<string, unknown>)[key] : undefined;
  }
  return node;
}

function childOf(node: Node, key: string | number, value: unknown): Node | undefined {
  for (const option of branches(node, value)) {
    const properties = option.properties;
    if (typeof key === "string" && isMapping(properties) && isMapping(properties[key]))
      return properties[key] as Node;
    if (typeof key === "number" && isMapping(option.items)) return option.items;
    if (typeof key === "string" && isMapping(option.additionalProperties)) return option.additionalProperties;
  }
  return undefined;
}

/** The options of a union, the one whose KIND the value has first; the node itself otherwise. */
function branches(node: Node, value: unknown): Node[] {
  const options = optionsOf(node);
  if (options === undefined) return [node];
  const kind = isMapping(value) ? value.KIND : undefined;
  return [...options.filter((o) => kindOf(o) === kind), ...options.filter((o) => kindOf(o) !== kind)];
}

function describe(node: Node): string {
  if ("const" in node) return JSON.stringify(node.const);
  if (Array.isArray(node.enum)) return alternatives(node.enum.map((v) => JSON.stringify(v)));
  const options = optionsOf(node);
  if (options !== undefined) {
    const kinds = options.map(kindOf);
    if (kinds.every((k) => typeof k === "string")) return `a mapping with KIND ${alternatives(kinds)}`;
    return alternatives([...new Set(options.map(describe))]);
  }
  if (Array.isArray(node.type)) return alternatives(node.type.map((type) => describe({ ...node, type })));
  switch (node.type) {
    case "string":
      return describeString(node);
    case "integer":
      return describeNumber(node, "whole number");
    case "number":
      return describeNumber(node, "number");
    case "boolean":
      return "a boolean (true or false)";
    case "null":
      return "null";
    case "array": {
      const min = typeof node.minItems === "number" ? node.minItems : 0;
      const size = min > 0 ? ` of at least ${min} item${min === 1 ? "" : "s"}` : "";
      return `a list${size}${isMapping(node.items) ? `, each ${describe(node.items)}` : ""}`;
    }
    case "object":
      return "a mapping";
    default:
      return "a value";
  }
}

function describeString(node: Node): string {
  if (node.format === "uri") return "a URL";
  if (typeof node.pattern === "string") return `a string matching ${node.pattern}`;
  const min = typeof node.minLength === "number" ? node.minLength : 0;
  if (min === 1) return "a non-empty string";
  return min > 1 ? `a string of at least ${min} characters` : "a string";
}

function describeNumber(node: Node, noun: string): string {
  const { exclusiveMinimum: above, minimum: from, exclusiveMaximum: below, maximum: to } = node;
  if (above === 0 && below === undefined && (to === undefined || to === Number.MAX_SAFE_INTEGER))
    return `a positive ${noun}`;
  const bounds = [
    typeof from === "number" ? `>= ${from}` : undefined,
    typeof above === "number" ? `> ${above}` : undefined,
    typeof to === "number" && to !== Number.MAX_SAFE_INTEGER ? `<= ${to}` : undefined,
    typeof below === "number" ? `< ${below}` : undefined,
  ].filter((b) => b !== undefined);
  return `a ${noun}${bounds.length > 0 ? ` ${bounds.join(" and ")}` : ""}`;
}

function optionsOf(node: Node): Node[] | undefined {
  const options = node.oneOf ?? node.anyOf;
  return Array.isArray(options) ? options.filter(isMapping) : undefined;
}

function kindOf(node: Node): unknown {
  const properties = node.properties;
  return isMapping(properties) && isMapping(properties.KIND) ? properties.KIND.const : undefined;
}

/** `a`, `a or b`, `a, b or c`. */
function alternatives(items: readonly string[]): string {
  if (items.length <= 1) return items[0] ?? "";
  return `${items.slice(0, -1).join(", ")} or ${items.at(-1)}`;
}
