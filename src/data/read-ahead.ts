/**
 * Chunks fetched ahead of their reader: one fetch at a time (a DuckDB stream takes no other), the next
 * issued as soon as the last one is in, until `depth` are held or the stream ends. The stream's thread
 * then decodes while the reader's thread does other work (a model's share of a batch) instead of waiting
 * for the reader's next ask.
 *
 * @example
 * ```ts
 * const chunks = new ReadAhead(() => stream.fetchChunk(), (c) => c === null || c.rowCount === 0, 8);
 * try {
 *   for (let c = await chunks.next(); c !== undefined; c = await chunks.next()) use(c);
 * } finally {
 *   await chunks.settle();
 * }
 * ```
 */
export class ReadAhead<T> {
  private readonly held: Promise<T>[] = [];
  private ended = false;

  /**
   * @param fetch - fetches the next chunk; never called again once one is `last`, or one fails
   * @param last - whether a chunk ends the stream (it is not handed out)
   * @param depth - chunks fetched ahead at most
   */
  constructor(
    private readonly fetch: () => Promise<T>,
    private readonly last: (chunk: T) => boolean,
    private readonly depth: number,
  ) {
    this.fill();
  }

  /**
   * The next chunk, undefined at the end.
   *
   * @throws the fetch's error (the chunks after it are not fetched)
   */
  async next(): Promise<T | undefined> {
    const head = this.held.shift();
    if (head === undefined) return undefined;
    const chunk = await head;
    if (this.last(chunk)) {
      this.ended = true;
      return undefined;
    }
    this.fill();
    return chunk;
  }

  /** Fetches no more, and waits for the fetches under way (errors ignored): the stream is idle after. */
  async settle(): Promise<void> {
    this.ended = true;
    await Promise.allSettled(this.held.splice(0));
  }

  private fill(): void {
    while (!this.ended && this.held.length < this.depth) {
      const before = this.held.at(-1);
      const chunk =
        before === undefined
          ? this.fetch()
          : before.then((previous) => (this.ended || this.last(previous) ? previous : this.fetch()));
      // Seen by next() or settle(); never an unhandled rejection in between.
      chunk.catch(() => undefined);
      this.held.push(chunk);
    }
  }
}
