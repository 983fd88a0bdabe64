import type { DebugLog } from "../debug-log.js";
import type { FeedOptions } from "../feeds.js";
import type { LoadContext } from "../onnx-model.js";
import type { SessionOptions } from "../session-options.js";
import { defaultForestCacheDir, ForestCache } from "../trees/cache/forest-cache.js";
import type { LoaderOptions } from "./loader-options.js";

/** A loader's options as {@link OnnxModel.create} takes them: session options, feeds, and the forest cache. */
export function modelOptions(
  options: LoaderOptions,
  tableColumns: readonly string[] | undefined,
  log: DebugLog | undefined,
): { session: SessionOptions; feeds: FeedOptions; context: LoadContext } {
  const {
    featureColumns,
    forestCache,
    probabilities: _,
    pyfunc: _pyfunc,
    envManager: _envManager,
    python: _python,
    workers: _workers,
    timeout: _timeout,
    envDir: _envDir,
    resultType: _resultType,
    ...session
  } = options;
  const cache =
    forestCache?.enable === true
      ? new ForestCache(forestCache.dir ?? defaultForestCacheDir(), log)
      : undefined;
  return {
    session,
    feeds: { featureColumns, tableColumns },
    context: { ...(cache && { forestCache: cache }), ...(log && { log }) },
  };
}
