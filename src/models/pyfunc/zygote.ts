import { type ChildProcess, spawn } from "node:child_process";
import type { Duplex, Readable } from "node:stream";
import { type Frame, FrameReader } from "./frames.js";
import { PyfuncWorker, stderrTail, WorkerFault } from "./worker.js";

/** What the zygote runs: the Python, the worker script, the model folder, the outputs asked, how many workers. */
export interface WorkerCommand {
  readonly python: string;
  readonly script: string;
  readonly modelDir: string;
  readonly outputs: readonly { readonly name: string; readonly type: string }[];
  readonly workers: number;
  readonly env?: NodeJS.ProcessEnv | undefined;
}

const live = new Set<WorkerGroup>();
// A Node process that exits (process.exit, an uncaught error) takes its Python processes with it; after
// kill -9 the zygote and the workers see their pipes close and their parent change.
process.on("exit", () => {
  for (const group of live) group.kill();
});

/**
 * The pyfunc workers and their zygote: one Python process imports mlflow and loads the model once, then
 * forks the workers (python/mlbatch_pyfunc_worker.py), each reached over pipes of its own. The zygote stays,
 * to report each worker's exit and to end them when Node goes.
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
  /** The workers, once forked. */
  workers: PyfuncWorker[] = [];
  /** The versions the zygote said it runs (`python`, `mlflow`, `pyarrow`). */
  versions: Record<string, string> = {};

  private constructor(private readonly child: ChildProcess) {
    live.add(this);
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
   * @throws WorkerFault `load` with the traceback (or the zygote's stderr) when the model cannot be loaded;
   * `hung` when it takes longer than `loadTimeoutMs`
   */
  static async start(command: WorkerCommand, timeoutMs: number, loadTimeoutMs: number): Promise<WorkerGroup> {
    const n = command.workers;
    const child = spawn(
      command.python,
      [command.script, command.modelDir, JSON.stringify(command.outputs), String(n)],
      {
        stdio: ["pipe", "pipe", "pipe", ...Array.from({ length: 2 * n }, () => "pipe" as const)],
        env: command.env ?? process.env,
      },
    );
    const group = new WorkerGroup(child);
    const answer = await new Promise<Frame | WorkerFault>((resolve) => {
      const timer = setTimeout(() => {
        group.kill();
        resolve(
          new WorkerFault(
            "hung",
            `gave no answer in ${loadTimeoutMs / 1000} s while loading the model`,
            group.stderr(),
            child.pid,
          ),
        );
      }, loadTimeoutMs);
      group.ready = (frame) => {
        clearTimeout(timer);
        resolve(frame);
      };
    });
    if (answer instanceof WorkerFault) throw answer;
    if (answer.kind === "F") {
      group.kill();
      throw new WorkerFault(
        "load",
        "cannot load the model",
        new TextDecoder().decode(answer.payload),
        child.pid,
      );
    }
    group.workers = [...group.exited].map(([pid, exit], i) => {
      const ends = {
        pid,
        channel: child.stdio[3 + 2 * i] as Duplex,
        stderr: child.stdio[4 + 2 * i] as Readable,
        exit,
        reaped: () => group.reaped.has(pid),
      };
      return new PyfuncWorker(ends, timeoutMs);
    });
    return group;
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
