import { type PyfuncWorker, WorkerFault } from "./worker.js";
import type { WorkerGroup } from "./zygote.js";

interface Task {
  readonly batch: Uint8Array;
  readonly resolve: (answer: Uint8Array) => void;
  readonly reject: (fault: WorkerFault) => void;
}

/**
 * The pyfunc workers, fed from one queue: an idle worker takes the next task, so every worker has one in
 * flight while there are tasks; memory is bounded by the tasks the caller has in flight. After a worker
 * dies or hangs the pool is broken: every task then fails with that fault.
 */
export class WorkerPool {
  private readonly queue: Task[] = [];
  private readonly idle: PyfuncWorker[];
  private broken: WorkerFault | undefined;
  readonly workers: readonly PyfuncWorker[];

  constructor(private readonly group: WorkerGroup) {
    this.workers = group.workers;
    this.idle = [...group.workers];
  }

  /**
   * Runs one Arrow IPC batch on the next idle worker.
   *
   * @returns the worker's answer (an Arrow IPC stream)
   * @throws WorkerFault the model raised, or the pool is broken (a worker died or hung)
   */
  run(batch: Uint8Array): Promise<Uint8Array> {
    return new Promise((resolve, reject) => {
      this.queue.push({ batch, resolve, reject });
      this.pump();
    });
  }

  private pump(): void {
    for (;;) {
      if (this.broken !== undefined) {
        for (const task of this.queue.splice(0)) task.reject(this.broken);
        return;
      }
      const worker = this.idle.pop();
      if (worker === undefined) return;
      const task = this.queue.shift();
      if (task === undefined) {
        this.idle.push(worker);
        return;
      }
      worker.predict(task.batch).then(
        (answer) => {
          this.idle.push(worker);
          task.resolve(answer);
          this.pump();
        },
        (error: unknown) => {
          const fault = error instanceof WorkerFault ? error : new WorkerFault("died", String(error), "");
          if (fault.kind === "raised") this.idle.push(worker);
          else this.broken ??= fault;
          task.reject(fault);
          this.pump();
        },
      );
    }
  }

  /** Ends every worker (their channels closed, killed after the grace period), then their zygote. */
  close(): Promise<void> {
    return this.group.close();
  }
}
