import type { Duplex, Readable } from "node:stream";
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

const STDERR_TAIL = 16 * 1024;

/** The last lines of a process's stderr. */
export function tailOf(stderr: string, lines = 20): string {
  return stderr.trimEnd().split("\n").slice(-lines).join("\n");
}

/** Keeps the last {@link STDERR_TAIL} characters a stream writes. */
export function stderrTail(stream: Readable): () => string {
  let text = "";
  stream.on("data", (chunk: Buffer) => {
    text = (text + chunk.toString()).slice(-STDERR_TAIL);
  });
  return () => tailOf(text);
}

/** How a worker forked by the zygote is reached: its channel, its stderr, and its exit as the zygote saw it. */
export interface WorkerEnds {
  readonly pid: number;
  /** Frames both ways. */
  readonly channel: Duplex;
  readonly stderr: Readable;
  /** Resolves once the worker has exited, to how (`SIGKILL`, `code 1`). */
  readonly exit: Promise<string>;
  /** Whether the zygote has reported its exit (so that its pid is no longer its). */
  readonly reaped: () => boolean;
}

/**
 * One Python worker process (forked by the zygote, python/mlbatch_pyfunc_worker.py, with the model loaded):
 * one batch at a time over its channel. Every wait has the timeout: a worker that does not answer within it
 * is killed.
 */
export class PyfuncWorker {
  private readonly reader = new FrameReader();
  private readonly stderr: () => string;
  private waiting: { resolve: (f: Frame) => void; reject: (e: WorkerFault) => void } | undefined;
  private exited: WorkerFault | undefined;

  constructor(
    private readonly ends: WorkerEnds,
    private readonly timeoutMs: number,
  ) {
    const { channel } = ends;
    this.stderr = stderrTail(ends.stderr);
    channel.on("data", (chunk: Buffer) => {
      for (const frame of this.reader.push(chunk)) this.answer(frame);
    });
    // A write to a worker that died fails here; its exit says why.
    channel.on("error", () => undefined);
    channel.on("close", () => {
      void ends.exit.then((how) =>
        this.fail(new WorkerFault("died", `exited (${how})`, this.stderr(), this.pid)),
      );
    });
  }

  /** The process id, for tests and logs. */
  get pid(): number {
    return this.ends.pid;
  }

  /**
   * Predicts one Arrow IPC stream; resolves to the worker's Arrow IPC answer.
   *
   * @throws WorkerFault `raised` (the worker goes on), `died` or `hung` (the worker is gone)
   */
  async predict(batch: Uint8Array): Promise<Uint8Array> {
    if (this.exited !== undefined) throw this.exited;
    const answer = this.next("predicting");
    this.ends.channel.write(frameHeader("B", batch.length));
    this.ends.channel.write(batch);
    const frame = await answer;
    if (frame.kind === "E") {
      throw new WorkerFault("raised", "the model raised", new TextDecoder().decode(frame.payload), this.pid);
    }
    return frame.payload;
  }

  /** Ends the worker: its channel closed (it exits), then killed if it is still there after `graceMs`. */
  async close(graceMs = 5_000): Promise<void> {
    this.ends.channel.end();
    const timer = setTimeout(() => this.kill(), graceMs);
    await this.ends.exit;
    clearTimeout(timer);
  }

  /** Kills the worker at once (SIGKILL), unless it has exited. */
  kill(): void {
    if (this.ends.reaped()) return;
    try {
      process.kill(this.pid, "SIGKILL");
    } catch {
      // Gone already: its exit is on its way from the zygote.
    }
  }

  private next(what: string): Promise<Frame> {
    if (this.exited !== undefined) return Promise.reject(this.exited);
    return new Promise<Frame>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.kill();
        const seconds = this.timeoutMs / 1000;
        this.fail(
          new WorkerFault("hung", `gave no answer in ${seconds} s while ${what}`, this.stderr(), this.pid),
        );
      }, this.timeoutMs);
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
}
