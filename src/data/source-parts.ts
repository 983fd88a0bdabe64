/**
 * An input read part by part: the row groups of Parquet objects on an object store, or pieces of its CSV
 * and JSON Lines objects cut at record boundaries as they are read, each fetched into a local file just
 * before DuckDB reads it and removed once read, the next one fetched meanwhile. The disk then holds two
 * parts, not the input (docs/object-stores.md: measured).
 */
import type { MlbatchError } from "../errors.js";

/** One part of an input: a SQL table of its rows, readable between `fetch` and `release`. */
export interface SourcePart {
  /** The part's rows as a SQL table expression, readable once fetched. */
  readonly table: string;
  /** How many rows the part holds, when that is known before it is fetched (a row group's). */
  readonly rows?: number | undefined;
  /** Makes the part readable (downloads what it needs), and gives how many rows it holds. */
  fetch(): Promise<number>;
  /** Removes what `fetch` made. */
  release(): Promise<void>;
}

/** The parts of an input, in input order, and how the source's SQL names them. */
export interface SourceParts {
  /**
   * The name standing in the source's SQL for the table of the part being read (a unique identifier,
   * replaced before a statement is run).
   */
  readonly token: string;
  /** A table with the parts' columns and no rows: what the source's SQL is bound and described with. */
  readonly empty: string;
  /**
   * The parts, in order, for one pass over the input: a list known up front (row groups), or parts made
   * as the pass goes (pieces of a text object cut as it is read), which a pass that stops early ends by
   * returning the iterator.
   */
  parts(): Iterable<SourcePart> | AsyncIterable<SourcePart>;
  /**
   * The `E_READ` for a DuckDB error about a part's local file, naming the object and the line in it
   * instead; undefined for an error about no part.
   */
  readonly failure?: ((error: unknown) => MlbatchError | undefined) | undefined;
}

/** A part ready to read: its table, and where its rows start among the input's. */
export interface FetchedPart {
  readonly table: string;
  readonly firstRow: number;
  readonly rows: number;
}

/** A part being fetched, ahead of its turn. */
interface Fetching {
  readonly part: SourcePart;
  readonly rows: Promise<number>;
}

/**
 * Yields the parts of one pass in order, each fetched, while the next is being fetched; a part is
 * released when the consumer asks for the next one or stops (and a part fetched ahead that was not read,
 * then too).
 *
 * @param limit - yield only the parts that hold the first `limit` rows
 * @throws the error of a fetch (an `E_READ` or `E_AUTH` naming the object)
 */
export async function* fetchedParts(
  parts: SourceParts["parts"],
  limit: number | undefined,
): AsyncGenerator<FetchedPart> {
  const listed = parts();
  const iterator =
    Symbol.asyncIterator in listed ? listed[Symbol.asyncIterator]() : listed[Symbol.iterator]();
  const fetchNext = async (): Promise<Fetching | undefined> => {
    const next = await iterator.next();
    if (next.done === true) return undefined;
    const rows = next.value.fetch();
    // Awaited when its turn comes; until then its failure must not be an unhandled rejection.
    rows.catch(() => undefined);
    return { part: next.value, rows };
  };
  const started = (next: Promise<Fetching | undefined>) => {
    next.catch(() => undefined);
    return next;
  };
  // The part being fetched ahead of the one read, if any.
  let ahead: Promise<Fetching | undefined> | undefined = started(fetchNext());
  let firstRow = 0;
  try {
    while (ahead !== undefined) {
      const current = await ahead;
      ahead = undefined;
      if (current === undefined) break;
      let rows = 0;
      try {
        rows = await current.rows;
        if (limit === undefined || firstRow + rows < limit) ahead = started(fetchNext());
        yield { table: current.part.table, firstRow, rows };
      } finally {
        await current.part.release();
      }
      firstRow += rows;
    }
  } finally {
    // Stopped early (a failure, or a consumer that had enough): the part fetched ahead goes too.
    const left = await (ahead as Promise<Fetching | undefined> | undefined)?.catch(() => undefined);
    if (left !== undefined) {
      await left.rows.catch(() => undefined);
      await left.part.release();
    }
    await iterator.return?.();
  }
}
