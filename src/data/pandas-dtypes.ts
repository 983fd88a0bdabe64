/**
 * The dtype pandas gives each input column when an MLflow user reads the file with `pd.read_parquet(path)`
 * (default numpy dtypes, pandas 3): MLflow's pyfunc judges that dtype, not the Parquet type. Integers with
 * missing values become float64, booleans with missing values and decimals become objects, strings
 * pyarrow stored dictionary-encoded become `category`, and the nullable dtypes pandas wrote into its
 * metadata (`Int64`, `boolean`, ...) come back as themselves.
 */
import { ARROW_STRING_TYPES, arrowFields } from "./arrow-schema.js";
import type { Database } from "./database.js";
import { quotedString } from "./sql.js";

/** A pandas dtype, as far as MLflow's type rules look at it. */
export interface PandasDtype {
  /** The dtype's name, as pandas prints it: `int64`, `Int64`, `float64`, `object`, `category`, ... */
  readonly name: string;
  /** numpy's kind: b(ool), i(nt), u(nsigned), f(loat), M (datetime), O (object, string, category). */
  readonly kind: "b" | "i" | "u" | "f" | "M" | "O";
  /** Bytes per value (numeric kinds). */
  readonly size: number;
  /** A pandas nullable extension dtype (`Int64`, `Float32`, `boolean`): not equal to numpy's. */
  readonly extension?: boolean;
  /** What the Python objects of an `object` column are. */
  readonly objects?: "decimal" | "date" | "time" | "bytes" | "bool" | "other";
  /** pandas' string dtype (`str`). */
  readonly text?: boolean;
  readonly category?: boolean;
  /** A time-zone-aware datetime. */
  readonly zoned?: boolean;
}

/** What a file's metadata says about how pandas reads a column: a nullable dtype, or `category`. */
export type PandasHints = ReadonlyMap<string, string>;

const EXTENSION = /^(U?Int(8|16|32|64)|Float(32|64)|boolean)$/;

/**
 * The hints of a Parquet file: the nullable dtypes in pandas' metadata, and the columns pyarrow stored
 * as dictionary-encoded strings (pandas' `category`). A file that is not Parquet, or whose metadata cannot
 * be read, gives none.
 */
export async function pandasHints(db: Database, file: string | undefined): Promise<PandasHints> {
  const hints = new Map<string, string>();
  if (file === undefined) return hints;
  let rows: Record<string, unknown>[];
  try {
    rows = await db.rows(
      `SELECT decode(key) AS key, decode(value) AS value FROM parquet_kv_metadata(${quotedString(file)}) ` +
        `WHERE decode(key) IN ('pandas', 'ARROW:schema')`,
    );
  } catch {
    return hints;
  }
  for (const { key, value } of rows) {
    try {
      if (key === "ARROW:schema") {
        for (const field of arrowFields(String(value)))
          if (field.dictionary && ARROW_STRING_TYPES.has(field.typeId)) hints.set(field.name, "category");
      } else {
        const meta = JSON.parse(String(value)) as { columns?: { name?: unknown; numpy_type?: unknown }[] };
        for (const c of meta.columns ?? [])
          if (typeof c.name === "string" && typeof c.numpy_type === "string" && EXTENSION.test(c.numpy_type))
            hints.set(c.name, c.numpy_type);
      }
    } catch {
      // Metadata pandas or pyarrow would not read either: the column types stand.
    }
  }
  return hints;
}

const INTEGERS: Readonly<Record<string, readonly ["i" | "u", number]>> = {
  TINYINT: ["i", 1],
  SMALLINT: ["i", 2],
  INTEGER: ["i", 4],
  BIGINT: ["i", 8],
  UTINYINT: ["u", 1],
  USMALLINT: ["u", 2],
  UINTEGER: ["u", 4],
  UBIGINT: ["u", 8],
};

const FLOAT64: PandasDtype = { name: "float64", kind: "f", size: 8 };
const objects = (what: NonNullable<PandasDtype["objects"]>): PandasDtype => ({
  name: "object",
  kind: "O",
  size: 8,
  objects: what,
});

/**
 * The dtype pandas reads a column of DuckDB type `type` as.
 *
 * @param hint - the column's hint from the file's metadata, if any
 * @param nulls - the column has missing values (they change numpy dtypes: int64 becomes float64)
 */
export function pandasDtype(type: string, hint: string | undefined, nulls: boolean): PandasDtype {
  if (hint !== undefined && EXTENSION.test(hint)) {
    const bits = Number(/\d+$/.exec(hint)?.[0] ?? 8);
    const kind = hint.startsWith("UInt")
      ? "u"
      : hint.startsWith("Int")
        ? "i"
        : hint === "boolean"
          ? "b"
          : "f";
    return { name: hint, kind, size: kind === "b" ? 1 : bits / 8, extension: true };
  }
  const integer = INTEGERS[type];
  if (integer !== undefined) {
    if (nulls) return FLOAT64;
    const [kind, size] = integer;
    return { name: `${kind === "u" ? "uint" : "int"}${size * 8}`, kind, size };
  }
  if (type === "BOOLEAN") return nulls ? objects("bool") : { name: "bool", kind: "b", size: 1 };
  if (type === "FLOAT") return { name: "float32", kind: "f", size: 4 };
  if (type === "DOUBLE") return FLOAT64;
  if (type.startsWith("DECIMAL")) return objects("decimal");
  if (type === "VARCHAR") {
    return hint === "category"
      ? { name: "category", kind: "O", size: 8, category: true }
      : { name: "str", kind: "O", size: 8, text: true };
  }
  if (type === "BLOB") return objects("bytes");
  if (type === "DATE") return objects("date");
  if (type === "TIME") return objects("time");
  if (type === "TIMESTAMP WITH TIME ZONE")
    return { name: "datetime64[ns, tz]", kind: "M", size: 8, zoned: true };
  if (type.startsWith("TIMESTAMP")) return { name: "datetime64", kind: "M", size: 8 };
  return objects("other");
}
