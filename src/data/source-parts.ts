/**
 * An input read part by part: the row groups of Parquet objects on an object store, each fetched into a
 * local stand-in (ranged reads) just before DuckDB reads it and removed once read, the next one fetched
 * meanwhile. The disk then holds two parts, not the input (docs/object-stores.md: measured).
 */

/** One part of an input: a SQL table of its rows, readable between `fetch` and `release`. */
export interface SourcePart {
  /** The part's rows as a SQL table expression, readable once fetched. */
  readonly table: string;
  readonly rows: number;
  /** Makes the part readable (downloads what it needs). */
  fetch(): Promise<unknown>;
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
  readonly parts: readonly SourcePart[];
}

/** A part ready to read: its table, and where its rows start among the input's. */
export interface FetchedPart {
  readonly table: string;
  readonly firstRow: number;
  readonly rows: number;
}

/**
 * Yields the parts in order, each fetched, while the next is being fetched; a part is released when the
 * consumer asks for the next one or stops (and a part fetched ahead that was not read, then too).
 *
 * @param limit - yield only the parts that hold the first `limit` rows
 * @throws the error of a fetch (an `E_READ` or `E_AUTH` naming the object)
 */
export async function* fetchedParts(
  parts: readonly SourcePart[],
  limit: number | undefined,
): AsyncGenerator<FetchedPart> {
  const wanted: SourcePart[] = [];
  for (let rows = 0, i = 0; i < parts.length && (limit === undefined || rows < limit); i++) {
    wanted.push(parts[i]!);
    rows += parts[i]!.rows;
  }
  // The part being fetched ahead of the one read, if any.
  let ahead: { part: SourcePart; fetched: Promise<unknown> } | undefined;
  const fetchAhead = (part: SourcePart | undefined) => {
    ahead = part && { part, fetched: part.fetch() };
    // Awaited when its turn comes; until then its failure must not be an unhandled rejection.
    ahead?.fetched.catch(() => undefined);
  };
  fetchAhead(wanted[0]);
  let firstRow = 0;
  try {
    for (const [i, part] of wanted.entries()) {
      const fetched = ahead!.fetched;
      ahead = undefined;
      try {
        await fetched;
        fetchAhead(wanted[i + 1]);
        yield { table: part.table, firstRow, rows: part.rows };
      } finally {
        await part.release();
      }
      firstRow += part.rows;
    }
  } finally {
    // Stopped early (a failure, or a consumer that had enough): the part fetched ahead goes too.
    const left = ahead as { part: SourcePart; fetched: Promise<unknown> } | undefined;
    if (left !== undefined) {
      await left.fetched.catch(() => undefined);
      await left.part.release();
    }
  }
}
