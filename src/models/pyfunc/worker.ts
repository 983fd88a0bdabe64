import { type ChildProcessByStdio, spawn } from "node:child_process";
import type { Readable, Writable } from "node:stream";
import { type Frame, FrameReader, frameHeader } from "./frames.js";

/** Why a worker's answer did not come: the model raised, the worker died, or it hung past the timeout. */
export class WorkerFault extends Error {
  /**
   * @param kind - `raised` (the model's traceback in `detail`), `load` (the model could not be loaded),
   * `died` or `hung`
   * @param detail - the traceback tail, or the worker's stderr tail
   */
  constructor(
    readonly kind: "raised" | "load" | "died" | "hung",
    message: string,
    readonly detail: string,
    readonly pid?: number | undefined,
  ) {
    super(message);
  }
}

/** What a worker runs: the Python, the worker script, the model folder, the outputs asked. */
export interface WorkerCommand {
  readonly python: string;
  readonly script: string;
  readonly modelDir: string;
  readonly outputs: readonly { readonly name: string; readonly type: string }[];
  readonly env?: NodeJS.ProcessEnv | undefined;
}

const STDERR_TAIL = 16 * 1024;
const live = new Set<PyfuncWorker>();
// A Node process that exits (process.exit, an uncaught error) takes its workers with it; after kill -9 the
// worker sees its stdin close and its parent change.
process.on("exit", () => {
  for (const worker of live) worker.kill();
});

/**
 * One Python worker process: the model loaded once, then one batch at a time over its pipes. Every wait has
 * the timeout: a worker that does not answer within it is killed.
 */
export class PyfuncWorker {
  private readonly reader = new FrameReader();
  private stderr = "";
  private waiting: { resolve: (f: Frame) => void; reject: (e: WorkerFault) => void } | undefined;
  private exited: WorkerFault | undefined;
  /** The versions the worker said it runs (`python`, `mlflow`, `pyarrow`). */
  versions: Record<string, string> = {};

  private constructor(
    private readonly child: ChildProcessByStdio<Writable, Readable, Readable>,
    private readonly timeoutMs: number,
  ) {
    live.add(this);
    child.stdout.on("data", (chunk: Buffer) => {
      for (const frame of this.reader.push(chunk)) this.answer(frame);
    });
    child.stderr.on("data", (chunk: Buffer) => {
      this.stderr = (this.stderr + chunk.toString()).slice(-STDERR_TAIL);
    });
    // A write to a worker that died fails here; its exit says why.
    child.stdin.on("error", () => undefined);
    child.on("error", (error) =>
      this.fail(new WorkerFault("died", `cannot start: ${error.message}`, "", child.pid)),
    );
    child.on("close", (code, signal) => {
      live.delete(this);
      this.fail(
        new WorkerFault("died", `exited (${signal ?? `code ${code}`})`, this.stderrTail(), child.pid),
      );
    });
  }

  /**
   * Starts a worker and waits until its model is loaded.
   *
   * @throws WorkerFault `load` with the traceback when the model cannot be loaded; `died` or `hung`
   */
  static async start(
    command: WorkerCommand,
    timeoutMs: number,
    loadTimeoutMs: number,
  ): Promise<PyfuncWorker> {
    const child = spawn(command.python, [command.script, command.modelDir, JSON.stringify(command.outputs)], {
      stdio: ["pipe", "pipe", "pipe"],
      env: command.env ?? process.env,
    });
    const worker = new PyfuncWorker(child, timeoutMs);
    const frame = await worker.next("loading the model", loadTimeoutMs);
    if (frame.kind === "F") {
      worker.kill();
      throw new WorkerFault(
        "load",
        "cannot load the model",
        new TextDecoder().decode(frame.payload),
        worker.pid,
      );
    }
    worker.versions = JSON.parse(new TextDecoder().decode(frame.payload)) as Record<string, string>;
    return worker;
  }

  /** The process id, for tests and logs. */
  get pid(): number | undefined {
    return this.child.pid;
  }

  /**
   * Predicts one Arrow IPC stream; resolves to the worker's Arrow IPC answer.
   *
   * @throws WorkerFault `raised` (the worker goes on), `died` or `hung` (the worker is gone)
   */
  async predict(batch: Uint8Array): Promise<Uint8Array> {
    if (this.exited !== undefined) throw this.exited;
    const answer = this.next("predicting");
    this.child.stdin.write(frameHeader("B", batch.length));
    this.child.stdin.write(batch);
    const frame = await answer;
    if (frame.kind === "E") {
      throw new WorkerFault("raised", "the model raised", new TextDecoder().decode(frame.payload), this.pid);
    }
    return frame.payload;
  }

  /** Ends the worker: its stdin closed (it exits), then killed if it is still there after `graceMs`. */
  async close(graceMs = 5_000): Promise<void> {
    if (this.exited !== undefined) return;
    const gone = new Promise<void>((resolve) => this.child.once("exit", () => resolve()));
    this.child.stdin.end();
    const timer = setTimeout(() => this.kill(), graceMs);
    await gone;
    clearTimeout(timer);
  }

  /** Kills the worker at once (SIGKILL). */
  kill(): void {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill("SIGKILL");
  }

  private next(what: string, timeoutMs = this.timeoutMs): Promise<Frame> {
    if (this.exited !== undefined) return Promise.reject(this.exited);
    return new Promise<Frame>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.kill();
        const seconds = timeoutMs / 1000;
        this.fail(
          new WorkerFault(
            "hung",
            `gave no answer in ${seconds} s while ${what}`,
            this.stderrTail(),
            this.pid,
          ),
        );
      }, timeoutMs);
      this.waiting = {
        resolve: (frame) => {
          clearTimeout(timer);
          resolve(frame);
        },
        reject: (fault) => {
          clearTimeout(timer);
          reject(fault);
        },
      };
    });
  }

  private answer(frame: Frame): void {
    const waiting = this.waiting;
    this.waiting = undefined;
    waiting?.resolve(frame);
  }

  private fail(fault: WorkerFault): void {
    this.exited ??= fault;
    const waiting = this.waiting;
    this.waiting = undefined;
    waiting?.reject(this.exited);
  }

  private stderrTail(lines = 20): string {
    return this.stderr.trimEnd().split("\n").slice(-lines).join("\n");
  }
}
