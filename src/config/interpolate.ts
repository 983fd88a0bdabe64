import { MlbatchError } from "../errors.js";
import { isMapping } from "./merge.js";

const INTERPOLATION = /\$\{([^}]*)\}/g;

/** A config path: keys of mappings and indexes of lists, as zod reports them. */
export type ConfigPath = readonly (string | number)[];

/** Where a config value was interpolated, and from which variables. */
export interface Interpolation {
  readonly path: ConfigPath;
  /** The environment variables the value came from (with a default in the config: its name still). */
  readonly names: readonly string[];
  /** The string was exactly one interpolation: the value is the variable's text, nothing around it. */
  readonly whole: boolean;
}

/** A config with its interpolations done, and where they were. */
export interface Interpolated {
  readonly config: unknown;
  readonly interpolations: readonly Interpolation[];
}

/**
 * Replaces OmegaConf's `${oc.env:NAME}` and `${oc.env:NAME,default}` in every string of a config by the
 * variable's text, exactly as it is in the environment (or the default, as written), as OmegaConf's
 * `oc.env` does. Nothing is parsed here: the text of a secret arrives intact; whether a whole
 * interpolation is read as a number or a boolean is decided by the schema ({@link validateSettings}).
 *
 * @returns the config, and the paths interpolated (so that messages never show those values)
 * @throws MlbatchError `E_CONFIG` naming the config path, for an unset variable without default or an
 * interpolation other than `oc.env`
 */
export function interpolate(config: unknown, env: NodeJS.ProcessEnv = process.env): Interpolated {
  const interpolations: Interpolation[] = [];
  const walk = (value: unknown, path: ConfigPath): unknown => {
    if (Array.isArray(value)) return value.map((item, i) => walk(item, [...path, i]));
    if (isMapping(value))
      return Object.fromEntries(
        Object.entries(value).map(([key, item]) => [key, walk(item, [...path, key])]),
      );
    if (typeof value !== "string" || !value.includes("${")) return value;
    const names: string[] = [];
    const text = value.replace(INTERPOLATION, (_, body: string) => {
      const { name, text } = resolve(body, env, path);
      names.push(name);
      return text;
    });
    if (names.length > 0) interpolations.push({ path, names, whole: /^\$\{[^}]*\}$/.test(value) });
    return text;
  };
  return { config: walk(config, []), interpolations };
}

/** A config path as messages show it: `job.inputs.path`, `job.id_columns.0`. */
export function showPath(path: ConfigPath): string {
  return path.join(".");
}

function resolve(body: string, env: NodeJS.ProcessEnv, path: ConfigPath): { name: string; text: string } {
  const match = /^oc\.env:([^,]+)(?:,(.*))?$/s.exec(body.trim());
  if (match?.[1] === undefined) {
    throw new MlbatchError(
      "E_CONFIG",
      `${showPath(path)}: unsupported interpolation "\${${body}}"; only \${oc.env:NAME} and \${oc.env:NAME,default} are supported`,
    );
  }
  const name = match[1].trim();
  const value = env[name];
  if (value !== undefined) return { name, text: value };
  if (match[2] !== undefined) return { name, text: match[2].trim() };
  throw new MlbatchError(
    "E_CONFIG",
    `${showPath(path)}: environment variable ${name} is not set (\${oc.env:${name}}); set it, or give a default: \${oc.env:${name},<default>}`,
  );
}
