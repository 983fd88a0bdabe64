/**
 * The TypeScript API of readers and writers takes camelCase options (`nullStrings`), their configs the
 * reference's snake_case keys (`null_strings`). The config schema is the one place defaults are written:
 * options are mapped to config keys here, then parsed by that schema.
 */
import type * as z from "zod";
import { MlbatchError } from "../errors.js";

type Camel<S extends string> = S extends `${infer Head}_${infer Tail}`
  ? `${Head}${Capitalize<Camel<Tail>>}`
  : S;

/** An object type with its keys in camelCase (`max_rows_per_file` -> `maxRowsPerFile`), modifiers kept. */
export type CamelKeys<T> = { readonly [K in keyof T as K extends string ? Camel<K> : never]: T[K] };

/** The options of a reader or writer class: its config schema's input without `KIND`, in camelCase. */
export type OptionsOf<S extends z.ZodType> = CamelKeys<Omit<z.input<S>, "KIND">>;

/**
 * Parses camelCase options as the config `schema` of `kind` describes them: unset options take the
 * schema's defaults.
 *
 * @throws MlbatchError `E_CONFIG` naming the option and what is wrong
 * @example
 * ```ts
 * configOf(CsvReaderConfig, "CsvReader", { path: "in.csv", nullStrings: ["NA"] }).delimiter; // ","
 * ```
 */
export function configOf<S extends z.ZodType>(schema: S, kind: string, options: object): z.output<S> {
  const keys = Object.entries(options).map(([key, value]) => [
    key.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`),
    value,
  ]);
  // Parsed once per reader or writer: jitless, zod's generated fast path would cost more to compile.
  const parsed = schema.safeParse({ ...Object.fromEntries(keys), KIND: kind }, { jitless: true });
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0];
  const where = issue?.path.map(String).join(".") ?? "";
  throw new MlbatchError(
    "E_CONFIG",
    `invalid ${kind} options: ${where === "" ? "" : `${camelCase(where)}: `}${issue?.message ?? "invalid"}.`,
  );
}

/** A config's keys in camelCase, as the classes take them (the inverse of {@link configOf}'s mapping). */
export function optionsOf<C extends { readonly KIND: string }>(config: C): CamelKeys<Omit<C, "KIND">> {
  const { KIND: _, ...rest } = config;
  return camelKeys(rest);
}

/** An object's keys in camelCase (one level: values, such as column names in a record, are kept). */
export function camelKeys<T extends object>(value: T): CamelKeys<T> {
  return Object.fromEntries(Object.entries(value).map(([key, v]) => [camelCase(key), v])) as CamelKeys<T>;
}

function camelCase(key: string): string {
  return key.replace(/_([a-z])/g, (_, c: string) => c.toUpperCase());
}
