/**
 * Reads the top-level fields of the Arrow schema pyarrow stores in a Parquet file's `ARROW:schema`
 * metadata (base64 of an Arrow IPC schema message, a flatbuffer). pyarrow restores column types from it
 * that Parquet cannot express, e.g. dictionary-encoded strings, which pandas reads as `category`.
 */

/** A top-level field of an Arrow schema. */
export interface ArrowField {
  readonly name: string;
  /** Arrow's `Type` union tag of the (value) type: 5 Utf8, 20 LargeUtf8, 24 Utf8View, ... */
  readonly typeId: number;
  /** The field is dictionary-encoded (its type is the dictionary's value type). */
  readonly dictionary: boolean;
}

/** Arrow's `Type` tags of string types. */
export const ARROW_STRING_TYPES: ReadonlySet<number> = new Set([5, 20, 24]);

/**
 * The top-level fields of a base64 `ARROW:schema` value.
 *
 * @throws Error when the value is not an Arrow IPC schema message
 */
export function arrowFields(base64: string): ArrowField[] {
  const bytes = Buffer.from(base64, "base64");
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  // An encapsulated message: a 0xFFFFFFFF continuation marker (Arrow >= 0.15), its length, the flatbuffer.
  const start = view.getInt32(0, true) === -1 ? 8 : 4;
  const fb = new FlatBuffer(view, start);
  const message = fb.root();
  const SCHEMA = 1;
  if (fb.scalar(message, 1, 1) !== SCHEMA) throw new Error("not an Arrow schema message");
  const schema = fb.table(message, 2);
  if (schema === undefined) throw new Error("an Arrow schema message without a schema");
  return fb.vector(schema, 1).map((field) => ({
    name: fb.string(field, 0) ?? "",
    typeId: fb.scalar(field, 2, 1),
    dictionary: fb.table(field, 4) !== undefined,
  }));
}

/** Just enough of the flatbuffer format to walk tables, vectors of tables, strings and small scalars. */
class FlatBuffer {
  constructor(
    private readonly view: DataView,
    private readonly base: number,
  ) {}

  root(): number {
    return this.base + this.view.getUint32(this.base, true);
  }

  /** The position of field `slot` of the table at `table`, or 0 when it is absent. */
  private field(table: number, slot: number): number {
    const vtable = table - this.view.getInt32(table, true);
    const entry = 4 + 2 * slot;
    if (entry >= this.view.getUint16(vtable, true)) return 0;
    const offset = this.view.getUint16(vtable + entry, true);
    return offset === 0 ? 0 : table + offset;
  }

  private deref(at: number): number {
    return at + this.view.getUint32(at, true);
  }

  /** An unsigned scalar of 1 or 2 bytes (0, its default, when absent). */
  scalar(table: number, slot: number, size: 1 | 2): number {
    const at = this.field(table, slot);
    if (at === 0) return 0;
    return size === 1 ? this.view.getUint8(at) : this.view.getUint16(at, true);
  }

  table(table: number, slot: number): number | undefined {
    const at = this.field(table, slot);
    return at === 0 ? undefined : this.deref(at);
  }

  string(table: number, slot: number): string | undefined {
    const at = this.table(table, slot);
    if (at === undefined) return undefined;
    const length = this.view.getUint32(at, true);
    const start = this.view.byteOffset + at + 4;
    return Buffer.from(this.view.buffer, start, length).toString("utf8");
  }

  vector(table: number, slot: number): number[] {
    const at = this.table(table, slot);
    if (at === undefined) return [];
    const length = this.view.getUint32(at, true);
    return Array.from({ length }, (_, i) => this.deref(at + 4 + 4 * i));
  }
}
