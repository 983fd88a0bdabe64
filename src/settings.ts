import * as z from "zod";
import { JobKind } from "./jobs/index.js";

/** The root of a config: one job, selected by its `KIND`. */
export const Settings = z.strictObject({ job: JobKind }).describe("mlbatch settings");
export type Settings = z.infer<typeof Settings>;

/** The JSON Schema of the settings (for editors' completion and validation of YAML configs). */
export function settingsJsonSchema(): Record<string, unknown> {
  return z.toJSONSchema(Settings, { io: "input", unrepresentable: "any" }) as Record<string, unknown>;
}
