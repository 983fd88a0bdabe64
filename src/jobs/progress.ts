import type { Logger } from "../services/logger.js";

/** Where progress goes and how often. */
export interface ProgressOptions {
  /** Rows expected, when known (for the percentage and the ETA). */
  readonly total?: number | undefined;
  /** Logs a progress line every `interval` ms when the stream is not a terminal. */
  readonly logger: Logger;
  /** The terminal stream for the bar (default: stderr; never stdout). */
  readonly stream?: NodeJS.WriteStream;
  readonly interval?: number;
}

/**
 * Reports rows done: a bar redrawn in place on stderr when it is a terminal (rows done / total, rows/s,
 * ETA), else a log line every `interval` ms (10 s by default).
 *
 * @example
 * ```ts
 * const progress = new Progress({ total: 1_000_000, logger });
 * progress.advance(65_536);
 * progress.done();
 * ```
 */
export class Progress {
  private rows = 0;
  private readonly start = performance.now();
  private last = 0;
  private readonly stream: NodeJS.WriteStream;
  private readonly tty: boolean;

  constructor(private readonly options: ProgressOptions) {
    this.stream = options.stream ?? process.stderr;
    this.tty = this.stream.isTTY === true;
    this.last = this.start;
  }

  /** Counts `rows` more rows done. */
  advance(rows: number): void {
    this.rows += rows;
    const now = performance.now();
    if (now - this.last < (this.tty ? 100 : (this.options.interval ?? 10_000))) return;
    this.last = now;
    if (this.tty) this.stream.write(`\r${this.line(now)}\u001b[K`);
    else
      this.options.logger.info(
        { rows: this.rows, total: this.options.total },
        `[Inference] Progress: ${this.line(now)}`,
      );
  }

  /** Ends the report (clears the bar). */
  done(): void {
    if (this.tty && this.rows > 0) this.stream.write("\r\u001b[K");
  }

  private line(now: number): string {
    const seconds = (now - this.start) / 1000;
    const rate = seconds > 0 ? this.rows / seconds : 0;
    const total = this.options.total;
    const count = `${this.rows.toLocaleString("en-US")}${total === undefined ? "" : ` / ${total.toLocaleString("en-US")}`} rows`;
    const speed = `${Math.round(rate).toLocaleString("en-US")} rows/s`;
    if (total === undefined || total === 0) return `${count}, ${speed}`;
    const fraction = Math.min(1, this.rows / total);
    const width = 24;
    const bar = `[${"=".repeat(Math.round(fraction * width)).padEnd(width, " ")}]`;
    const eta = rate > 0 ? `ETA ${Math.ceil((total - this.rows) / rate)} s` : "ETA ?";
    return `${bar} ${(fraction * 100).toFixed(0)}% ${count}, ${speed}, ${eta}`;
  }
}
