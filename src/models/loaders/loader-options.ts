import * as z from "zod";
import { type Camelized, camelized } from "../camel-case.js";
import { SessionOptionsConfig } from "../session-options.js";
import { FeatureColumnsConfig } from "./feature-columns.js";

/** What every loader's config holds besides its KIND (snake_case, as configs write them). */
export const LoaderOptionsConfig = { ...SessionOptionsConfig, ...FeatureColumnsConfig };

const LoaderOptionsSchema = z.object(LoaderOptionsConfig);

/** A loader's options in the TypeScript API: the config's, camelCase (`feature_columns` -> `featureColumns`). */
export type LoaderOptions = Partial<Camelized<z.output<typeof LoaderOptionsSchema>>>;

/** Maps a loader config's options to the TypeScript API's, once, at the config boundary. */
export function loaderOptions(config: z.output<typeof LoaderOptionsSchema>): LoaderOptions {
  return camelized(config);
}
