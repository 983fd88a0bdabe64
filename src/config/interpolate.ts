import { parse } from "yaml";
import { MlbatchError } from "../errors.js";
import { isMapping } from "./merge.js";

const INTERPOLATION = /\$\{([^}]*)\}/g;

/** A config path: keys of mappings and indexes of lists, as zod reports them. */
export type ConfigPath = readonly (string | number)[];

/** A config path as messages show it: `job.inputs.path`, `job.id_columns.0`. */
export function showPath(path: ConfigPath): string {
  return path.join(".");
}

/**
 * Replaces OmegaConf's `${oc.env:NAME}` and `${oc.env:NAME,default}` in every string of a config. A
 * string that is exactly one interpolation takes the variable's value decoded as a YAML scalar (so
 * `${oc.env:LIMIT}` can give a number); inside a longer string it is pasted as text.
 *
 * @throws MlbatchError `E_CONFIG` naming the config path, for an unset variable without default or an
 * interpolation other than `oc.env`
 */
export function interpolate(value: unknown, env: NodeJS.ProcessEnv = process.env, path = ""): unknown {
  if (Array.isArray(value)) return value.map((item, i) => interpolate(item, env, `${path}[${i}]`));
  if (isMapping(value)) {
    return Object.fromEntries(
      Object.entries(value).map(([key, item]) => [
        key,
        interpolate(item, env, path ? `${path}.${key}` : key),
      ]),
    );
  }
  if (typeof value !== "string" || !value.includes("${")) return value;
  const whole = /^\$\{([^}]*)\}$/.exec(value);
  if (whole?.[1] !== undefined) {
    const resolved = resolve(whole[1], env, path);
    const decoded: unknown = parse(resolved);
    return decoded === null || typeof decoded === "object" ? resolved : decoded;
  }
  return value.replace(INTERPOLATION, (_, body: string) => resolve(body, env, path));
}

function resolve(body: string, env: NodeJS.ProcessEnv, path: string): string {
  const match = /^oc\.env:([^,]+)(?:,(.*))?$/.exec(body.trim());
  if (match?.[1] === undefined) {
    throw new MlbatchError(
      "E_CONFIG",
      `${path}: unsupported interpolation "\${${body}}"; only \${oc.env:NAME} and \${oc.env:NAME,default} are supported`,
    );
  }
  const name = match[1].trim();
  const value = env[name];
  if (value !== undefined) return value;
  if (match[2] !== undefined) return match[2].trim();
  throw new MlbatchError(
    "E_CONFIG",
    `${path}: environment variable ${name} is not set (\${oc.env:${name}}); set it, or give a default: \${oc.env:${name},<default>}`,
  );
}
