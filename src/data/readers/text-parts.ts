/**
 * CSV and JSON Lines inputs on an object store read piece by piece: each pass over the input cuts its
 * objects into pieces of whole records as it reads them (object-store/text-pieces.ts) and reads each
 * piece with DuckDB, with the columns and types detected once, from the first piece, as DuckDB detects
 * them from a whole file's first rows. The disk holds two pieces, not the input.
 */
import { randomBytes } from "node:crypto";
import { MlbatchError, messageOf } from "../../errors.js";
import type { Database } from "../database.js";
import { inParallel } from "../object-store/inputs.js";
import { ObjectStore } from "../object-store/object-store.js";
import { type TextFormat, type TextObject, type TextPiece, textPieces } from "../object-store/text-pieces.js";
import { isObjectUri } from "../object-store/uri.js";
import { condensedReadError, namesNoLine } from "../read-errors.js";
import type { Source } from "../source.js";
import type { SourcePart, SourceParts } from "../source-parts.js";
import { quotedIdentifier, quotedString } from "../sql.js";
import { openTable, type TableOptions } from "./files.js";

/** How a reader reads one local piece file. */
export interface PieceRead {
  /**
   * The table function reading `path` with the reader's settings: `header` when the piece starts with
   * its object's header, `columns` the detected columns to read it with (none: detect them), `hive` the
   * Hive partitioning option.
   */
  table(path: string, options: { header: boolean; columns?: string | undefined; hive: string }): string;
  /**
   * The options every piece is read with, from the columns detected in the first piece (at `path`):
   * `, columns = {...}`, and what else the reader detects there (a CSV dialect).
   */
  columns(db: Database, path: string, detected: readonly { name: string; type: string }[]): Promise<string>;
  /**
   * DuckDB's error text about a piece, made true of the object: DuckDB says a type given with `columns`
   * (as every piece's are) was detected, though the user may have set it.
   */
  errorText?: ((text: string) => string) | undefined;
  /** DuckDB's text for the first bad line of a piece the sniffer gave up on (CSV), or undefined. */
  diagnose?: ((db: Database, path: string) => Promise<string | undefined>) | undefined;
}

/**
 * True when the files are objects that can be read piece by piece: plain or gzip text (a zstd object is
 * spooled whole: Node 20 has no zstd).
 */
export function cutsIntoPieces(files: readonly string[]): boolean {
  return files.length > 0 && files.every((file) => isObjectUri(file) && !/\.zst$/i.test(file));
}

/**
 * Opens the objects as a source read piece by piece: heads them (every piece of a pass reads the version
 * headed now), detects the columns from the first piece, and cuts the objects anew for each pass.
 *
 * @param table - the inputs as the user named them (for messages), and the columns and rows to read
 * @param hive - the Hive partitioning option of the reader (`, hive_partitioning = true`, or "")
 * @returns undefined when the first object is empty (read whole, as DuckDB reads an empty file)
 * @throws MlbatchError `E_READ` naming the object (and the line) DuckDB could not read
 */
export async function openTextParts(
  db: Database,
  files: readonly string[],
  format: TextFormat,
  read: PieceRead,
  table: TableOptions,
  hive: string,
): Promise<Source | undefined> {
  const label = table.path;
  const store = ObjectStore.fromEnvironment();
  const objects: TextObject[] = await inParallel(files, async (uri) => {
    const version = await store.head(uri);
    if (version === undefined) {
      throw new MlbatchError(
        "E_READ",
        `cannot read inputs "${uri}": the object went since it was listed. Run again.`,
      );
    }
    return { uri, version };
  });
  if (objects[0]!.version.size === 0) return undefined;
  const pieces = new PieceErrors(label, format.header === true, read.errorText);
  const first = textPieces(db, objects.slice(0, 1), format, 1);
  let piece: TextPiece | undefined;
  let columns: string;
  const id = randomBytes(6).toString("hex");
  const empty = quotedIdentifier(`__mlbatch_schema_${id}`);
  try {
    piece = (await first.next()).value as TextPiece | undefined;
    if (piece === undefined) return undefined;
    pieces.track(piece, 0);
    const sniffed = read.table(piece.path, {
      header: format.header === true,
      hive: ", hive_partitioning = false",
    });
    try {
      const detected = await db.rows(`DESCRIBE SELECT * FROM ${sniffed}`);
      columns = await read.columns(
        db,
        piece.path,
        detected.map((c) => ({ name: String(c.column_name), type: String(c.column_type) })),
      );
      const table = read.table(piece.path, { header: format.header === true, columns, hive });
      await db.run(`CREATE TABLE ${empty} AS SELECT * FROM ${table} LIMIT 0`);
    } catch (error) {
      const line = namesNoLine(error) ? await read.diagnose?.(db, piece.path) : undefined;
      throw pieces.failure(error, line) ?? condensedReadError(error, label);
    }
  } finally {
    if (piece !== undefined) {
      pieces.forget(piece);
      await piece.release();
    }
    await first.return(undefined);
  }
  const token = quotedIdentifier(`__mlbatch_part_${id}`);
  async function* parts(): AsyncGenerator<SourcePart> {
    let own: Database | undefined;
    // Rows of each object before the piece being counted: the pieces of a pass are counted in order.
    let object: string | undefined;
    let before = 0;
    try {
      for await (const piece of textPieces(db, objects, format)) {
        const table = read.table(piece.path, {
          header: format.header === true && piece.index === 0,
          columns,
          hive,
        });
        yield {
          table,
          fetch: async () => {
            if (piece.uri !== object) [object, before] = [piece.uri, 0];
            pieces.track(piece, before);
            // On a connection of its own: the piece before is being streamed on the database's.
            own ??= await db.fork();
            let rows: number;
            try {
              const [counted] = await own.rows(`SELECT count(*)::BIGINT AS n FROM ${table}`);
              rows = Number(counted?.n ?? 0);
            } catch (error) {
              throw pieces.failure(error) ?? condensedReadError(error, label);
            }
            before += rows;
            return rows;
          },
          release: async () => {
            pieces.forget(piece);
            await piece.release();
          },
        };
      }
    } finally {
      own?.close();
    }
  }
  const parted: SourceParts = { token, empty, parts, failure: (error) => pieces.failure(error) };
  return openTable(db, token, { ...table, files, parts: parted });
}

/** The pieces being read, to turn DuckDB's errors about their files into errors about the objects. */
class PieceErrors {
  private readonly pieces = new Map<string, { piece: TextPiece; before: number }>();

  constructor(
    private readonly label: string,
    private readonly header: boolean,
    private readonly errorText: ((text: string) => string) | undefined,
  ) {}

  track(piece: TextPiece, before: number): void {
    this.pieces.set(piece.path, { piece, before });
  }

  forget(piece: TextPiece): void {
    this.pieces.delete(piece.path);
  }

  /**
   * The `E_READ` for an error naming a piece's file: the object, and the line in it (a later piece's lines
   * follow the rows before it and the header).
   */
  failure(error: unknown, line?: string): MlbatchError | undefined {
    const text = messageOf(error);
    for (const { piece, before } of this.pieces.values()) {
      if (!text.includes(piece.path)) continue;
      const named = new Error((this.errorText ?? String)(text.replaceAll(piece.path, piece.uri)), {
        cause: error,
      });
      const offset = piece.index === 0 ? 0 : before + (this.header ? 1 : 0);
      return condensedReadError(named, this.label, [piece.uri], line, offset);
    }
    return undefined;
  }
}

/** `columns = {'a': 'BIGINT', ...}`: detected columns as DuckDB's CSV and JSON readers take them. */
export function columnsOption(detected: readonly { name: string; type: string }[]): string {
  return `, columns = {${detected.map((c) => `${quotedString(c.name)}: ${quotedString(c.type)}`).join(", ")}}`;
}
