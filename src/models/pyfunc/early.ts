/**
 * The pyfunc workers' zygote started before the model is known: when every model a loader loads goes to
 * pyfunc in a local Python, the zygote's imports (mlflow, pyarrow, pandas: seconds) run while the job
 * resolves the model and opens its inputs. This module loads none of the tier's transport (apache-arrow),
 * so that Python starts first.
 */
import { availableParallelism } from "node:os";
import { localPythonPath } from "./environment.js";
import { type PyfuncOptions, startsEarly } from "./options.js";
import { threadsCapped, WORKER_SCRIPT, WorkerGroup } from "./zygote.js";

/**
 * Starts the zygote the next pyfunc model of these options will load into (the same Python, workers and
 * environment as a model started without it would get), or nothing when {@link startsEarly} says no.
 */
export function spawnEarly(options: PyfuncOptions): WorkerGroup | undefined {
  if (!startsEarly(options)) return undefined;
  const count = options.workers ?? availableParallelism();
  return WorkerGroup.spawn({
    python: localPythonPath(options.python),
    script: WORKER_SCRIPT,
    workers: count,
    env: threadsCapped(process.env, count),
  });
}
