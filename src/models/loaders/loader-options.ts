import * as z from "zod";
import { type Camelized, camelized } from "../camel-case.js";
import { NativeOptionsConfig } from "../native/options.js";
import { PyfuncOptionsConfig } from "../pyfunc/options.js";
import { SessionOptionsConfig } from "../session-options.js";
import { FeatureColumnsConfig } from "./feature-columns.js";

/** Where the tree engine keeps compiled forests of large models, and whether it does. */
const ForestCache = z.strictObject({
  enable: z
    .boolean()
    .default(true)
    .describe(
      "Keep the tree engine's compiled forests of large models (from about 100,000 nodes) for the next runs, keyed by the model file's SHA-256 (false: compile every time).",
    ),
  dir: z
    .string()
    .min(1)
    .optional()
    .describe(
      "The folder of compiled forests. Default: $XDG_CACHE_HOME/mlbatch/forests, else ~/.cache/mlbatch/forests.",
    ),
});

/** The loaders' `forest_cache` option (absent: the defaults of {@link ForestCache}, so enabled). */
export const ForestCacheConfig = {
  forest_cache: ForestCache.optional().describe(
    "Cache of the tree engine's compiled forests (a second run of a large model reads it instead of decoding the model again). Default: enabled, in the default folder.",
  ),
};

/** What every loader's config holds besides its KIND (snake_case, as configs write them). */
export const LoaderOptionsConfig = {
  ...SessionOptionsConfig,
  ...FeatureColumnsConfig,
  ...ForestCacheConfig,
  ...NativeOptionsConfig,
  ...PyfuncOptionsConfig,
};

const LoaderOptionsSchema = z.object(LoaderOptionsConfig);

/** A loader's options in the TypeScript API: the config's, camelCase (`forest_cache` -> `forestCache`). */
export type LoaderOptions = Partial<Camelized<z.output<typeof LoaderOptionsSchema>>>;

/**
 * Maps a loader config's options to the TypeScript API's, once, at the config boundary; an absent
 * `forest_cache` takes its schema's defaults (a config without it parses to no key, as it did).
 */
export function loaderOptions(config: z.output<typeof LoaderOptionsSchema>): LoaderOptions {
  return camelized({
    ...config,
    forest_cache: config.forest_cache ?? ForestCache.parse({}, { jitless: true }),
  });
}
