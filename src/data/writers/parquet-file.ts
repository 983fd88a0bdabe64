/**
 * A Parquet file written query by query, without holding the rows: DuckDB writes each query's rows as a
 * Parquet file of its own (its row groups, encoded once), whose bytes are appended to the file and whose
 * footer's row groups, their offsets shifted, join the file's footer. The result is the file one COPY of
 * all the rows would give: DuckDB's row groups, the first query's schema and key-value metadata.
 */
import { open, readFile, rm, stat } from "node:fs/promises";
import { MlbatchError } from "../../errors.js";
import { scratchPath, track } from "../../scratch.js";
import type { Database } from "../database.js";
import { quotedString } from "../sql.js";
import type { FileSink } from "./sinks.js";
import { field, readStruct, type ThriftStruct, type ThriftValue, TYPE, writeStruct } from "./thrift.js";

const MAGIC = Buffer.from("PAR1");

/** FileMetaData's fields (parquet.thrift). */
const META = { SCHEMA: 2, NUM_ROWS: 3, ROW_GROUPS: 4 } as const;
/** RowGroup's columns, file offset and ordinal; ColumnChunk's offsets; ColumnMetaData's page offsets. */
const ROW_GROUP = { COLUMNS: 1, FILE_OFFSET: 5, ORDINAL: 7 } as const;
const CHUNK = { FILE_OFFSET: 2, META_DATA: 3, PAGE_INDEXES: [4, 5, 6, 7], ENCRYPTION: [8, 9] } as const;
/** data_page_offset, index_page_offset, dictionary_page_offset, bloom_filter_offset. */
const PAGE_OFFSETS = [9, 10, 11, 14];

/** The file so far: its first footer (the template), where its row groups end, and the row groups. */
interface Joined {
  readonly footer: ThriftStruct;
  readonly schema: string;
  end: number;
  readonly rowGroups: ThriftValue[];
  numRows: bigint;
  segments: number;
}

/**
 * Writes a Parquet file at `file` from queries appended in order (see the module's comment).
 *
 * @example
 * ```ts
 * const file = new ParquetFile(db, "out.parquet", async () => "FORMAT parquet, COMPRESSION snappy");
 * await file.append("(SELECT 1 AS x)");
 * await file.append("(SELECT 2 AS x)");
 * await file.finish(); // 2 rows, two row groups
 * ```
 */
export class ParquetFile implements FileSink {
  private rows = 0;
  private joined: Joined | undefined;

  /**
   * @param copy - COPY's options for a query's rows (format, compression, key-value metadata)
   */
  constructor(
    private readonly db: Database,
    private readonly file: string,
    private readonly copy: (query: string) => Promise<string>,
  ) {}

  /** @inheritdoc */
  async append(query: string): Promise<number> {
    const first = this.joined === undefined;
    // The first query makes the file; the others a segment beside it, joined to it then removed.
    const target = first ? this.file : scratchPath(this.file, "tmp");
    const forget = first ? () => undefined : track(target);
    try {
      const [result] = await this.db.rows(
        `COPY ${query} TO ${quotedString(target)} (${await this.copy(query)})`,
      );
      const rows = Number(result?.Count ?? 0);
      if (this.joined === undefined) this.joined = await this.start();
      else await this.join(this.joined, await readFile(target));
      this.rows += rows;
      return rows;
    } finally {
      if (!first) {
        await rm(target, { force: true });
        forget();
      }
    }
  }

  /** @inheritdoc */
  async finish(): Promise<number> {
    const joined = this.joined;
    if (joined === undefined) throw new MlbatchError("E_INTERNAL", `no rows were given for "${this.file}"`);
    if (joined.segments === 1) return this.rows;
    const footer: ThriftStruct = {
      fields: joined.footer.fields.map((f) => {
        if (f.id === META.NUM_ROWS) return { ...f, value: joined.numRows };
        if (f.id === META.ROW_GROUPS)
          return { ...f, value: { elementType: TYPE.STRUCT, items: joined.rowGroups } };
        return f;
      }),
    };
    const bytes = writeStruct(footer);
    const length = Buffer.alloc(4);
    length.writeUInt32LE(bytes.length);
    const handle = await open(this.file, "r+");
    try {
      await handle.write(Buffer.concat([bytes, length, MAGIC]), 0, bytes.length + 8, joined.end);
    } finally {
      await handle.close();
    }
    return this.rows;
  }

  /** The file as the first query wrote it. */
  private async start(): Promise<Joined> {
    const size = (await stat(this.file)).size;
    const handle = await open(this.file, "r");
    try {
      const tail = Buffer.alloc(Math.min(size, 1 << 20));
      await handle.read(tail, 0, tail.length, size - tail.length);
      let parsed = footerOf(tail, size);
      if (parsed === undefined) {
        const whole = await readFile(this.file);
        parsed = footerOf(whole, size);
      }
      if (parsed === undefined) throw new MlbatchError("E_INTERNAL", `"${this.file}" has no Parquet footer`);
      const { footer, start } = parsed;
      const groups = field(footer, META.ROW_GROUPS)?.value as { items: ThriftValue[] } | undefined;
      return {
        footer,
        schema: schemaKey(footer),
        end: start,
        rowGroups: [...(groups?.items ?? [])],
        numRows: BigInt(field(footer, META.NUM_ROWS)?.value as bigint),
        segments: 1,
      };
    } finally {
      await handle.close();
    }
  }

  /** Appends a segment's row groups to the file, in place of its footer; the footer is written at the end. */
  private async join(joined: Joined, segment: Buffer): Promise<void> {
    const parsed = footerOf(segment, segment.length);
    if (parsed === undefined)
      throw new MlbatchError("E_INTERNAL", `a segment of "${this.file}" has no Parquet footer`);
    if (schemaKey(parsed.footer) !== joined.schema) {
      throw new MlbatchError(
        "E_INTERNAL",
        `the rows written to "${this.file}" changed their columns between queries`,
      );
    }
    const body = segment.subarray(MAGIC.length, parsed.start);
    const delta = BigInt(joined.end - MAGIC.length);
    const groups = (field(parsed.footer, META.ROW_GROUPS)?.value as { items: ThriftStruct[] } | undefined)
      ?.items;
    for (const group of groups ?? []) joined.rowGroups.push(shifted(group, delta, joined.rowGroups.length));
    joined.numRows += BigInt(field(parsed.footer, META.NUM_ROWS)?.value as bigint);
    const handle = await open(this.file, "r+");
    try {
      await handle.truncate(joined.end);
      await handle.write(body, 0, body.length, joined.end);
    } finally {
      await handle.close();
    }
    joined.end += body.length;
    joined.segments++;
  }
}

/** The footer at the end of `bytes` (the last `bytes.length` of a file of `size` bytes), and its offset. */
function footerOf(bytes: Buffer, size: number): { footer: ThriftStruct; start: number } | undefined {
  if (bytes.length < 12 || !bytes.subarray(bytes.length - 4).equals(MAGIC)) return undefined;
  const length = bytes.readUInt32LE(bytes.length - 8);
  const at = bytes.length - 8 - length;
  if (at < 0) return undefined;
  return { footer: readStruct(bytes, at).struct, start: size - 8 - length };
}

function schemaKey(footer: ThriftStruct): string {
  const schema = field(footer, META.SCHEMA);
  return schema === undefined ? "" : Buffer.from(writeStruct({ fields: [schema] })).toString("base64");
}

/**
 * A row group of a segment as it sits in the joined file: every absolute offset moved by `delta`, its
 * ordinal set. Page indexes hold absolute page offsets in their own bytes: rather than rewrite them they
 * are left out (readers then cannot skip pages; DuckDB writes none).
 */
function shifted(group: ThriftStruct, delta: bigint, ordinal: number): ThriftStruct {
  const move = (s: ThriftStruct, ids: readonly number[]): ThriftStruct => ({
    fields: s.fields.map((f) =>
      ids.includes(f.id) && typeof f.value === "bigint" && f.value > 0n
        ? { ...f, value: f.value + delta }
        : f,
    ),
  });
  const chunk = (c: ThriftStruct): ThriftStruct => {
    if (c.fields.some((f) => (CHUNK.ENCRYPTION as readonly number[]).includes(f.id))) {
      throw new MlbatchError("E_INTERNAL", "encrypted Parquet column chunks cannot be joined");
    }
    const kept = c.fields.filter((f) => !(CHUNK.PAGE_INDEXES as readonly number[]).includes(f.id));
    return move(
      {
        fields: kept.map((f) =>
          f.id === CHUNK.META_DATA ? { ...f, value: move(f.value as ThriftStruct, PAGE_OFFSETS) } : f,
        ),
      },
      [CHUNK.FILE_OFFSET],
    );
  };
  const fields = move(group, [ROW_GROUP.FILE_OFFSET]).fields.map((f) => {
    if (f.id === ROW_GROUP.COLUMNS) {
      const list = f.value as { elementType: number; items: ThriftStruct[] };
      return { ...f, value: { elementType: list.elementType, items: list.items.map(chunk) } };
    }
    if (f.id === ROW_GROUP.ORDINAL) return { ...f, value: ordinal };
    return f;
  });
  return { fields };
}
