import { type ChildProcess, spawn } from "node:child_process";
import { availableParallelism } from "node:os";
import type { Duplex, Readable } from "node:stream";
import { packageFile } from "../../packages.js";
import { type Frame, FrameReader, frameHeader } from "./frames.js";
import { PyfuncWorker, stderrTail, WorkerFault } from "./worker.js";

/** The worker script, where the package ships it (`python/`, beside `dist/`). */
export const WORKER_SCRIPT = packageFile("python/mlbatch_pyfunc_worker.py");

/** What the zygote is started with: the Python, the worker script, how many workers, their environment. */
export interface ZygoteCommand {
  readonly python: string;
  readonly script: string;
  readonly workers: number;
  readonly env?: NodeJS.ProcessEnv | undefined;
}

/** What the zygote loads once started: the model folder, and the outputs asked. */
export interface LoadRequest {
  readonly modelDir: string;
  readonly outputs: readonly { readonly name: string; readonly type: string }[];
}

/** Everything {@link WorkerGroup.start} runs: the zygote and the model it loads. */
export type WorkerCommand = ZygoteCommand & LoadRequest;

const live = new Set<WorkerGroup>();
// A Node process that exits (process.exit, an uncaught error) takes its Python processes with it; after
// kill -9 the zygote and the workers see their pipes close and their parent change.
process.on("exit", () => {
  for (const group of live) group.kill();
});

/**
 * The pyfunc workers and their zygote: one Python process imports mlflow (from its start, which may come
 * before the model is known: {@link WorkerGroup.spawn}), loads the model once ({@link WorkerGroup.load}),
 * then forks the workers (python/mlbatch_pyfunc_worker.py), each reached over pipes of its own. The zygote
 * stays, to report each worker's exit and to end them when Node goes.
 */
export class WorkerGroup {
  private readonly reader = new FrameReader();
  private readonly exits = new Map<number, (how: string) => void>();
  private readonly exited = new Map<number, Promise<string>>();
  private readonly reaped = new Set<number>();
  /** Resolves once the zygote has exited and its stdout is read to the end, to how it exited. */
  private readonly gone: Promise<string>;
  private readonly stderr: () => string;
  private ready: ((frame: Frame | WorkerFault) => void) | undefined;
  /** The zygote's first answer (ready, or why not), kept from whenever it comes until it is awaited. */
  private readonly answer: Promise<Frame | WorkerFault>;
  /** The workers, once forked. */
  workers: PyfuncWorker[] = [];
  /** The versions the zygote said it runs (`python`, `mlflow`, `pyarrow`). */
  versions: Record<string, string> = {};

  private constructor(
    private readonly child: ChildProcess,
    /** What it was started with. */
    readonly command: ZygoteCommand,
  ) {
    live.add(this);
    this.answer = new Promise((resolve) => {
      this.ready = resolve;
    });
    this.stderr = stderrTail(child.stderr!);
    child.stdout!.on("data", (chunk: Buffer) => {
      for (const frame of this.reader.push(chunk)) this.control(frame);
    });
    child.stdin!.on("error", () => undefined);
    child.on("error", (error) =>
      this.settle(new WorkerFault("died", `cannot start: ${error.message}`, "", child.pid)),
    );
    const exit = new Promise<string>((resolve) =>
      child.once("exit", (code, signal) => resolve(signal ?? `code ${code}`)),
    );
    const read = new Promise<void>((resolve) => child.stdout!.once("close", () => resolve()));
    this.gone = Promise.all([exit, read]).then(([how]) => {
      live.delete(this);
      this.settle(
        new WorkerFault("load", `exited (${how}) before its workers started`, this.stderr(), child.pid),
      );
      for (const [pid, exited] of this.exits) {
        this.reaped.add(pid);
        exited(`with its zygote, which exited (${how})`);
      }
      this.exits.clear();
      for (const pipe of child.stdio.slice(3)) pipe?.destroy();
      return how;
    });
  }

  /**
   * Starts the zygote and waits until it has loaded the model and forked the workers.
   *
   * @param timeoutMs - the workers' timeout per batch
   * @param loadTimeoutMs - the zygote's to load the model
   * @throws WorkerFault see {@link WorkerGroup.load}
   */
  static start(command: WorkerCommand, timeoutMs: number, loadTimeoutMs: number): Promise<WorkerGroup> {
    const group = WorkerGroup.spawn(command);
    return group.load(command, timeoutMs, loadTimeoutMs).then(() => group);
  }

  /**
   * Starts the zygote, which imports mlflow and pyarrow, then waits for {@link WorkerGroup.load} to name
   * the model. The caller loads or stops it ({@link WorkerGroup.stop}); Node's exit kills it, and it dies
   * with Node if Node is killed.
   */
  static spawn(command: ZygoteCommand): WorkerGroup {
    const n = command.workers;
    const child = spawn(command.python, [command.script, String(n)], {
      stdio: ["pipe", "pipe", "pipe", ...Array.from({ length: 2 * n }, () => "pipe" as const)],
      env: command.env ?? process.env,
    });
    return new WorkerGroup(child, command);
  }

  /**
   * Has the zygote load the model and fork the workers, and waits until it has.
   *
   * @param timeoutMs - the workers' timeout per batch
   * @param loadTimeoutMs - the zygote's to load the model, from now
   * @throws WorkerFault `load` with the traceback (or the zygote's stderr) when the model cannot be loaded
   * (or the zygote's imports failed, or it exited); `hung` when it takes longer than `loadTimeoutMs`
   */
  async load(request: LoadRequest, timeoutMs: number, loadTimeoutMs: number): Promise<void> {
    const { child } = this;
    const payload = Buffer.from(JSON.stringify({ model_dir: request.modelDir, outputs: request.outputs }));
    child.stdin!.write(frameHeader("L", payload.length));
    child.stdin!.write(payload);
    let timer: NodeJS.Timeout | undefined;
    const hung = new Promise<WorkerFault>((resolve) => {
      timer = setTimeout(() => {
        this.kill();
        resolve(
          new WorkerFault(
            "hung",
            `gave no answer in ${loadTimeoutMs / 1000} s while loading the model`,
            this.stderr(),
            child.pid,
          ),
        );
      }, loadTimeoutMs);
    });
    const answer = await Promise.race([this.answer, hung]);
    clearTimeout(timer);
    if (answer instanceof WorkerFault) throw answer;
    if (answer.kind === "F") {
      this.kill();
      throw new WorkerFault(
        "load",
        "cannot load the model",
        new TextDecoder().decode(answer.payload),
        child.pid,
      );
    }
    this.workers = [...this.exited].map(([pid, exit], i) => {
      const ends = {
        pid,
        channel: child.stdio[3 + 2 * i] as Duplex,
        stderr: child.stdio[4 + 2 * i] as Readable,
        exit,
        reaped: () => this.reaped.has(pid),
      };
      return new PyfuncWorker(ends, timeoutMs);
    });
  }

  /** The zygote's process id. */
  get pid(): number | undefined {
    return this.child.pid;
  }

  /** Ends every worker (their channels closed, killed after the grace period), then the zygote. */
  async close(graceMs = 5_000): Promise<void> {
    await Promise.all(this.workers.map((w) => w.close(graceMs)));
    this.child.stdin!.end();
    const timer = setTimeout(() => this.kill(), graceMs);
    await this.gone;
    clearTimeout(timer);
  }

  /** Kills the zygote (and its workers) at once, and waits until it has exited: for a zygote no model went to. */
  async stop(): Promise<void> {
    this.kill();
    // A Python that could not be started has no process to wait for.
    if (this.child.pid !== undefined) await this.gone;
  }

  /** Kills the workers and the zygote at once (SIGKILL). */
  kill(): void {
    for (const worker of this.workers) worker.kill();
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill("SIGKILL");
  }

  private control(frame: Frame): void {
    if (frame.kind === "R") {
      // The workers' exits are awaited from now: an exit may come in the same chunk as this frame.
      const { pids, ...versions } = JSON.parse(new TextDecoder().decode(frame.payload)) as {
        pids: number[];
      } & Record<string, string>;
      this.versions = versions;
      for (const pid of pids) {
        this.exited.set(pid, new Promise<string>((resolve) => this.exits.set(pid, resolve)));
      }
    }
    if (frame.kind !== "X") {
      this.settle(frame);
      return;
    }
    const exit = JSON.parse(new TextDecoder().decode(frame.payload)) as {
      pid: number;
      signal?: string;
      code?: number;
    };
    this.reaped.add(exit.pid);
    this.exits.get(exit.pid)?.(exit.signal ?? `code ${exit.code}`);
    this.exits.delete(exit.pid);
  }

  private settle(answer: Frame | WorkerFault): void {
    const ready = this.ready;
    this.ready = undefined;
    ready?.(answer);
  }
}

/** The threading libraries' variables BLAS and OpenMP read: capped so that N workers do not oversubscribe the cores. */
const THREAD_VARIABLES = ["OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"] as const;

/**
 * The workers' environment: each BLAS/OpenMP pool capped at its share of the cores (one thread per worker
 * when there are as many workers as cores), unless the user set the variable.
 */
export function threadsCapped(env: NodeJS.ProcessEnv, workers: number): NodeJS.ProcessEnv {
  const share = String(Math.max(1, Math.floor(availableParallelism() / workers)));
  const capped = { ...env };
  for (const name of THREAD_VARIABLES) capped[name] ??= share;
  return capped;
}
