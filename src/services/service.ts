import * as z from "zod";
import { MlbatchError } from "../errors.js";

/** A service a job starts before it runs and stops after it, also when it fails. */
export interface Service {
  /** Acquires what the service needs (streams, connections). */
  start(): Promise<void>;
  /** Releases it; never throws. */
  stop(): Promise<void>;
}

/**
 * A service's config with the schema's defaults filled in: services take the config as YAML holds it (or
 * as already parsed) and read every default from their schema, the one place defaults are written.
 *
 * @param schema - the service's config schema
 * @param config - the config, as a YAML mapping or already parsed
 * @param name - the config key, for messages (`logger_service`)
 * @throws MlbatchError `E_CONFIG` listing what the schema refuses
 */
export function serviceConfig<S extends z.ZodType>(schema: S, config: z.input<S>, name: string): z.output<S> {
  // Parsed once per run: zod's compiled fast path would cost more to build than it saves (as in config/).
  const parsed = schema.safeParse(config, { jitless: true });
  if (parsed.success) return parsed.data;
  throw new MlbatchError("E_CONFIG", `invalid ${name}:\n${z.prettifyError(parsed.error)}`);
}
