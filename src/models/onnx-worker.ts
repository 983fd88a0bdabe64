import { createRequire } from "node:module";
import { Worker } from "node:worker_threads";
import type ort from "onnxruntime-node";

/** A tensor as it crosses the thread boundary: its element type, values and dimensions. */
export interface WireTensor {
  readonly type: string;
  readonly data: ArrayBufferView | string[];
  readonly dims: readonly number[];
}

/** A model session as {@link OnnxModel} uses it: ONNX Runtime's, or the tree engine's. */
export interface Session {
  /** The graph's inputs. */
  readonly inputMetadata: readonly ort.InferenceSession.ValueMetadata[];
  /** The graph's outputs. */
  readonly outputMetadata: readonly ort.InferenceSession.ValueMetadata[];
  /** Runs the graph on a batch's feeds; resolves with the outputs by name. */
  run(feeds: Record<string, WireTensor>): Promise<Record<string, WireTensor>>;
  /** Releases the session and its threads. */
  release(): Promise<void>;
}

type Reply =
  | {
      type: "ready";
      inputs: ort.InferenceSession.ValueMetadata[];
      outputs: ort.InferenceSession.ValueMetadata[];
    }
  | { type: "result"; id: number; outputs: Record<string, WireTensor>; spent: ArrayBuffer[] }
  | { type: "error"; id: number; message: string };

// The worker is plain CommonJS evaluated from a string, so it runs the same from dist/ and from the
// TypeScript sources under test. It owns the session: ONNX Runtime's run() blocks the thread it is called
// on, and here that thread is not the one reading and writing data.
const WORKER = `
const { parentPort, workerData } = require("node:worker_threads");
const ort = require(workerData.ort);
const wire = (t) => ({ type: t.type, data: t.data, dims: t.dims });
(async () => {
  let session;
  try {
    session = await ort.InferenceSession.create(workerData.file, workerData.options);
  } catch (error) {
    parentPort.postMessage({ type: "error", id: 0, message: String(error && error.message || error) });
    return;
  }
  parentPort.postMessage({ type: "ready", inputs: session.inputMetadata, outputs: session.outputMetadata });
  parentPort.on("message", async (message) => {
    if (message.type === "close") {
      await session.release();
      parentPort.close();
      return;
    }
    try {
      const feeds = {};
      for (const [name, t] of Object.entries(message.feeds)) feeds[name] = new ort.Tensor(t.type, t.data, t.dims);
      const results = await session.run(feeds);
      const outputs = {};
      // The feeds' buffers go back to the main thread to be refilled: no new buffers per batch.
      const spent = Object.values(message.feeds).filter((t) => ArrayBuffer.isView(t.data)).map((t) => t.data.buffer);
      const transfer = [...spent];
      for (const [name, t] of Object.entries(results)) {
        outputs[name] = wire(t);
        if (ArrayBuffer.isView(t.data)) transfer.push(t.data.buffer);
      }
      parentPort.postMessage({ type: "result", id: message.id, outputs, spent }, transfer);
    } catch (error) {
      parentPort.postMessage({ type: "error", id: message.id, message: String(error && error.message || error) });
    }
  });
})();
`;

/**
 * Turns ONNX Runtime's telemetry off, unless the user set `ORT_DISABLE_TELEMETRY` themselves: by default
 * its native library keeps a device id and a queue of events (row counts, timings) under
 * `$HOME/.cache/Microsoft/DeveloperTools/.onnxruntime/` and writes `$TMPDIR/.ses` and
 * `$TMPDIR/mat-debug-<pid>.log`. A batch job over customer data sends and leaves nothing. The library
 * reads the variable when it loads, in the worker; the environment is the process's, set here first.
 */
function disableTelemetry(): void {
  process.env.ORT_DISABLE_TELEMETRY ??= "1";
}

/**
 * An ONNX Runtime session living in a worker thread, so that the main thread reads the next batch and
 * writes the previous one while a batch is predicted. Feeds are copied into the message (the caller may
 * reuse its buffers as soon as {@link OnnxWorker.run} returns its promise); outputs are transferred back
 * without copy.
 *
 * @example
 * ```ts
 * const session = await OnnxWorker.create("model.onnx", { intraOpNumThreads: 2 });
 * const outputs = await session.run({ x: { type: "float32", data: values, dims: [n, 1] } });
 * await session.release();
 * ```
 */
export class OnnxWorker implements Session {
  private nextId = 1;
  private readonly pending = new Map<
    number,
    { resolve: (v: Record<string, WireTensor>) => void; reject: (e: Error) => void }
  >();
  private failure: Error | undefined;
  /** Feed buffers the worker gave back, ready to be refilled. */
  private readonly spare: ArrayBuffer[] = [];

  private constructor(
    private readonly worker: Worker,
    /** The graph's inputs. */
    readonly inputMetadata: readonly ort.InferenceSession.ValueMetadata[],
    /** The graph's outputs. */
    readonly outputMetadata: readonly ort.InferenceSession.ValueMetadata[],
  ) {
    worker.on("message", (reply: Reply) => {
      if (reply.type === "ready") return;
      const waiter = this.pending.get(reply.id);
      this.pending.delete(reply.id);
      if (reply.type === "result") {
        this.spare.push(...reply.spent);
        waiter?.resolve(reply.outputs);
      } else waiter?.reject(new Error(reply.message));
    });
    worker.on("error", (error) => this.fail(error));
    worker.on("exit", (code) => this.fail(new Error(`the ONNX Runtime worker exited (code ${code})`)));
  }

  /**
   * Starts the worker and creates the session in it, from a model file or a model's bytes.
   *
   * @throws Error with ONNX Runtime's message when the model cannot be loaded
   */
  static create(
    file: string | Uint8Array,
    options: ort.InferenceSession.SessionOptions,
  ): Promise<OnnxWorker> {
    disableTelemetry();
    const worker = new Worker(WORKER, {
      eval: true,
      workerData: { file, options, ort: createRequire(import.meta.url).resolve("onnxruntime-node") },
    });
    return new Promise((resolve, reject) => {
      const onError = (error: Error) => reject(error);
      worker.once("error", onError);
      worker.once("message", (reply: Reply) => {
        worker.off("error", onError);
        if (reply.type === "ready") resolve(new OnnxWorker(worker, reply.inputs, reply.outputs));
        else {
          void worker.terminate();
          reject(
            new Error(
              reply.type === "error" ? reply.message : "unexpected reply from the ONNX Runtime worker",
            ),
          );
        }
      });
    });
  }

  /** Runs the session on copies of the feeds; resolves with the outputs by name. */
  run(feeds: Record<string, WireTensor>): Promise<Record<string, WireTensor>> {
    if (this.failure) return Promise.reject(this.failure);
    const id = this.nextId++;
    const copies: Record<string, WireTensor> = {};
    const transfer: ArrayBuffer[] = [];
    for (const [name, tensor] of Object.entries(feeds)) {
      const data = Array.isArray(tensor.data) ? [...tensor.data] : this.copy(tensor.data);
      if (!Array.isArray(data)) transfer.push(data.buffer as ArrayBuffer);
      copies[name] = { ...tensor, data };
    }
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.worker.postMessage({ type: "run", id, feeds: copies }, transfer);
    });
  }

  /** Releases the session and stops the worker. */
  async release(): Promise<void> {
    if (this.failure) return;
    const exited = new Promise<void>((resolve) => this.worker.once("exit", () => resolve()));
    this.worker.postMessage({ type: "close" });
    await Promise.race([exited, new Promise((resolve) => setTimeout(resolve, 5_000).unref())]);
    await this.worker.terminate();
  }

  /** A copy of a typed-array view in a spare buffer when one is large enough, else in a new one. */
  private copy(view: ArrayBufferView): ArrayBufferView {
    const Type = view.constructor as new (
      buffer: ArrayBuffer,
      offset: number,
      length: number,
    ) => ArrayBufferView & {
      set(source: ArrayBufferView): void;
    };
    const index = this.spare.findIndex((buffer) => buffer.byteLength >= view.byteLength);
    const buffer = index >= 0 ? this.spare.splice(index, 1)[0]! : new ArrayBuffer(view.byteLength);
    const length = view.byteLength / (Type as unknown as { BYTES_PER_ELEMENT: number }).BYTES_PER_ELEMENT;
    const copy = new Type(buffer, 0, length);
    copy.set(view);
    return copy;
  }

  private fail(error: Error): void {
    this.failure ??= error;
    for (const waiter of this.pending.values()) waiter.reject(error);
    this.pending.clear();
  }
}
