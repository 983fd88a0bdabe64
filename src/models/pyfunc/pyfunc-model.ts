import { availableParallelism } from "node:os";
import type { Batch, Column } from "../../data/batch.js";
import { MlbatchError, messageOf } from "../../errors.js";
import type { FeatureSpec, Model, OutputSpec } from "../model.js";
import { decodeOutputs, encodeBatch } from "./arrow.js";
import type { PythonEnvironment } from "./environment.js";
import { WorkerPool } from "./pool.js";
import { WorkerFault } from "./worker.js";
import { threadsCapped, WORKER_SCRIPT, WorkerGroup } from "./zygote.js";

export { threadsCapped, WORKER_SCRIPT } from "./zygote.js";

/** The least time a worker has to load its model (importing mlflow alone takes seconds), whatever the timeout. */
const LOAD_TIMEOUT_S = 300;

/**
 * The batch size of pyfunc models when the config sets none: each `predict` call costs tens of ms in pandas
 * and MLflow's schema enforcement whatever its rows, so calls of 65,536 rows a worker (2 workers) amortise it;
 * measured in docs/pyfunc.md.
 */
const BATCH_SIZE = 131_072;

/** A batch is cut into slices of at least this many rows, one per worker, so that every worker has work. */
const MIN_SLICE = 1024;

/** What a pyfunc model is started with. */
export interface PyfuncStart {
  readonly uri: string;
  readonly modelDir: string;
  readonly inputs: readonly FeatureSpec[];
  readonly outputs: readonly OutputSpec[];
  readonly environment: PythonEnvironment;
  readonly workers: number | undefined;
  /** Seconds. */
  readonly timeout: number;
  /** Why pyfunc runs it, for the engine's description. */
  readonly why: string;
  /**
   * A zygote started ahead for this Python and this many workers (importing mlflow while the job resolved
   * the model), to load the model into instead of starting one.
   */
  readonly early?: WorkerGroup | undefined;
}

/**
 * A model run by MLflow's pyfunc in Python worker processes: each batch cut into one slice per worker, the
 * slices sent as Arrow IPC streams, the predictions put back together in input order.
 */
export class PyfuncModel implements Model {
  private predicted = 0;
  /**
   * The buffers of slices answered, for the next slices' Arrow streams: a worker answers once it has read
   * its whole slice, so its buffer is free again. Reused, not allocated a slice at a time (6.8 MB for 65,536
   * bikes rows): fresh buffers cost page faults on every copy, and the garbage collections their external
   * memory set off. At most as many as the slices in flight.
   */
  private readonly spare: ArrayBuffer[] = [];
  readonly batchSize = BATCH_SIZE;

  private constructor(
    readonly uri: string,
    readonly inputs: readonly FeatureSpec[],
    readonly outputs: readonly OutputSpec[],
    readonly engine: string,
    private readonly pool: WorkerPool,
    private readonly timeout: number,
  ) {}

  /**
   * Starts the workers, each loading the model once.
   *
   * @throws MlbatchError `E_MODEL_LOAD` with the model's traceback tail when a worker cannot load it
   */
  static async create(start: PyfuncStart): Promise<PyfuncModel> {
    const { uri, environment } = start;
    const count = start.workers ?? availableParallelism();
    const early = start.early;
    const fits = early?.command.python === environment.python && early.command.workers === count;
    if (early !== undefined && !fits) await early.stop();
    const group =
      (fits ? early : undefined) ??
      WorkerGroup.spawn({
        python: environment.python,
        script: WORKER_SCRIPT,
        workers: count,
        env: threadsCapped(process.env, count),
      });
    try {
      await group.load(
        { modelDir: start.modelDir, outputs: start.outputs },
        start.timeout * 1000,
        Math.max(start.timeout, LOAD_TIMEOUT_S) * 1000,
      );
    } catch (fault) {
      const detail = fault instanceof WorkerFault ? `${fault.message}:\n${fault.detail}` : messageOf(fault);
      throw new MlbatchError(
        "E_MODEL_LOAD",
        `model ${uri}: its pyfunc workers' zygote (${environment.description}) ${detail}\n` +
          "Check that this Python has the model's requirements (its requirements.txt), or let mlbatch build them with loader.env_manager uv or virtualenv.",
        { cause: fault },
      );
    }
    const versions = group.versions;
    const engine =
      `pyfunc (${count} Python worker${count === 1 ? "" : "s"}, ${environment.description}, ` +
      `Python ${versions.python}, mlflow ${versions.mlflow}; ${start.why})`;
    return new PyfuncModel(uri, start.inputs, start.outputs, engine, new WorkerPool(group), start.timeout);
  }

  /** The workers' process ids, for tests. */
  get pids(): number[] {
    return this.pool.workers.map((w) => w.pid);
  }

  /** @inheritdoc */
  async predict(batch: Batch): Promise<Batch> {
    const n = batch.length;
    const first = this.predicted;
    this.predicted += n;
    const features = this.inputs.map((spec) => {
      const column = batch.columns.find((c) => c.name === spec.name);
      if (column === undefined) {
        throw new MlbatchError("E_PREDICT", `model ${this.uri}: the batch has no column "${spec.name}"`);
      }
      return column;
    });
    const slices = Math.max(1, Math.min(this.pool.workers.length, Math.floor(n / MIN_SLICE)));
    const size = Math.ceil(n / slices);
    const parts = await Promise.all(
      Array.from({ length: slices }, (_, s) => {
        const from = s * size;
        const to = Math.min(n, from + size);
        return this.slice(features, from, to, first);
      }),
    );
    return parts.length === 1 ? parts[0]! : concat(parts, this.outputs, n);
  }

  private async slice(features: readonly Column[], from: number, to: number, first: number): Promise<Batch> {
    const columns = features.map(
      (c): Column => ({
        ...c,
        data: Array.isArray(c.data) ? c.data.slice(from, to) : c.data.subarray(from, to),
      }),
    );
    let answer: Uint8Array;
    const stream = encodeBatch(columns, to - from, (n) => this.buffer(n));
    try {
      answer = await this.pool.run(stream);
    } catch (error) {
      throw this.failure(error, first + from, first + to);
    }
    // Only once answered: a worker that failed may not have read it all.
    this.spare.push(stream.buffer as ArrayBuffer);
    try {
      const out = decodeOutputs(answer, this.outputs);
      if (out.length !== to - from) throw new Error(`${out.length} rows came back for ${to - from}`);
      return out;
    } catch (error) {
      throw new MlbatchError(
        "E_PREDICT",
        `model ${this.uri}: a pyfunc worker's answer is unreadable: ${messageOf(error)}`,
        {
          cause: error,
        },
      );
    }
  }

  /** A buffer of `n` bytes: a spare one large enough, else a new one with room to spare. */
  private buffer(n: number): Uint8Array {
    const i = this.spare.findIndex((b) => b.byteLength >= n);
    if (i >= 0) return new Uint8Array(this.spare.splice(i, 1)[0]!, 0, n);
    return new Uint8Array(new ArrayBuffer(Math.ceil(n * 1.125)), 0, n);
  }

  private failure(error: unknown, from: number, to: number): MlbatchError {
    const rows = `rows ${from} to ${to - 1} (0-based, of the rows predicted)`;
    if (!(error instanceof WorkerFault)) {
      return new MlbatchError(
        "E_PREDICT",
        `model ${this.uri}: predicting ${rows} failed: ${messageOf(error)}`,
        {
          cause: error,
        },
      );
    }
    const worker = `its pyfunc worker (pid ${error.pid ?? "?"})`;
    const tail = error.detail === "" ? "" : `\n${error.detail}\n`;
    const what =
      error.kind === "raised"
        ? `the model raised on ${rows}:${tail}Fix the model or those rows.`
        : error.kind === "hung"
          ? `${worker} ${error.message} on ${rows}; it was killed.${tail}Raise loader.timeout (now ${this.timeout} s) if a batch needs longer, or lower job.batch_size.`
          : `${worker} ${error.message} while predicting ${rows}.${tail}` +
            "Was it killed, or out of memory? Lower job.batch_size or loader.workers.";
    return new MlbatchError("E_PREDICT", `model ${this.uri}: ${what}`, { cause: error });
  }

  /** @inheritdoc */
  close(): Promise<void> {
    return this.pool.close();
  }
}

function concat(parts: readonly Batch[], outputs: readonly OutputSpec[], n: number): Batch {
  const columns = outputs.map((spec, j): Column => {
    const first = parts[0]!.columns[j]!.data;
    if (Array.isArray(first)) {
      return { ...spec, data: parts.flatMap((p) => p.columns[j]!.data as string[]) };
    }
    const data = new (first.constructor as new (n: number) => typeof first)(n);
    let at = 0;
    for (const p of parts) {
      const part = p.columns[j]!.data as typeof first;
      (data as Float64Array).set(part as Float64Array, at);
      at += part.length;
    }
    return { ...spec, data };
  });
  return { length: n, columns };
}
