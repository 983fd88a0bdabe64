import { startsEarly } from "../pyfunc/options.js";
import type { WorkerGroup } from "../pyfunc/zygote.js";
import type { LoaderOptions } from "./loader-options.js";

/**
 * A loader's pyfunc zygote started ahead of its first load ({@link Loader.prestart}): only when
 * {@link startsEarly} (`pyfunc: always`, `env_manager: local`: every model goes to that Python). The
 * first pyfunc load takes it; {@link HeadStart.stop} ends it when none did (a job that failed first).
 */
export class HeadStart {
  private started: Promise<WorkerGroup | undefined> | undefined;
  /** Set by {@link HeadStart.stop}: a zygote not started yet (its module still loading) is then never started. */
  private stopped = false;

  constructor(private readonly options: LoaderOptions) {}

  /**
   * Starts the zygote when these options allow it, once. A zygote that then fails (its Python missing, its
   * imports failing) says so at the load, as one started there would; one that cannot be started at all
   * is left to the load to start.
   */
  start(): void {
    if (this.started !== undefined || !startsEarly(this.options)) return;
    // The tier's modules load only here, apache-arrow's not at all (the zygote's module does not use it).
    this.started = import("../pyfunc/early.js")
      .then((m) => (this.stopped ? undefined : m.spawnEarly(this.options)))
      .catch(() => undefined);
  }

  /** The zygote started, for the next load to take (once); undefined when none was started. */
  take(): Promise<WorkerGroup | undefined> {
    const started = this.started;
    this.started = undefined;
    return started ?? Promise.resolve(undefined);
  }

  /** Stops the zygote if no load took it, and waits until it has exited. */
  async stop(): Promise<void> {
    if (this.started === undefined) return;
    this.stopped = true;
    await (await this.take())?.stop();
    this.stopped = false;
  }
}
