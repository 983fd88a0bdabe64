/**
 * The `pandas` key of a Parquet file's metadata, as pyarrow writes it for a DataFrame: it tells pandas
 * (`pd.read_parquet`) and pyarrow (`Table.to_pandas`) which columns are the frame's index. Readers that
 * do not know it (DuckDB, Spark, polars) see every column as a column.
 */
import type { Database } from "../database.js";

/** pyarrow's `(pandas_type, numpy_type)` of the pandas column a DuckDB type reads back as. */
const PANDAS_TYPES: Record<string, readonly [string, string]> = {
  BOOLEAN: ["bool", "bool"],
  TINYINT: ["int8", "int8"],
  SMALLINT: ["int16", "int16"],
  INTEGER: ["int32", "int32"],
  BIGINT: ["int64", "int64"],
  UTINYINT: ["uint8", "uint8"],
  USMALLINT: ["uint16", "uint16"],
  UINTEGER: ["uint32", "uint32"],
  UBIGINT: ["uint64", "uint64"],
  FLOAT: ["float32", "float32"],
  DOUBLE: ["float64", "float64"],
  VARCHAR: ["unicode", "object"],
  DATE: ["date", "object"],
  TIMESTAMP: ["datetime", "datetime64[ns]"],
  TIMESTAMP_NS: ["datetime", "datetime64[ns]"],
  TIMESTAMP_MS: ["datetime", "datetime64[ns]"],
  TIMESTAMP_S: ["datetime", "datetime64[ns]"],
  "TIMESTAMP WITH TIME ZONE": ["datetimetz", "datetime64[ns]"],
};

/** pyarrow names an unnamed index level `__index_level_<n>__` in the file. */
const UNNAMED_LEVEL = /^__index_level_\d+__$/;

/**
 * The pandas metadata of a query's rows written with `index` as the frame's index (in that order), as
 * pyarrow would write `DataFrame.to_parquet()` of the frame: so pandas reads the file back with the
 * same index as the input's.
 *
 * @param query - the parenthesised query whose rows are written
 * @param index - the index columns (all among the query's columns)
 * @returns the JSON text of the `pandas` metadata key
 */
export async function pandasMetadata(db: Database, query: string, index: readonly string[]): Promise<string> {
  const described = await db.rows(`DESCRIBE SELECT * FROM ${query}`);
  const columns = described.map((row) => {
    const field = String(row.column_name);
    const type = String(row.column_type);
    const [pandasType, numpyType] = PANDAS_TYPES[type] ?? ["object", "object"];
    return {
      name: UNNAMED_LEVEL.test(field) ? null : field,
      field_name: field,
      pandas_type: pandasType,
      numpy_type: numpyType,
      metadata: pandasType === "datetimetz" ? { timezone: "UTC" } : null,
    };
  });
  // pyarrow lists the data columns first, then the index levels.
  const ordered = [
    ...columns.filter((c) => !index.includes(c.field_name)),
    ...index.flatMap((name) => columns.filter((c) => c.field_name === name)),
  ];
  return JSON.stringify({
    index_columns: index,
    column_indexes: [
      {
        name: null,
        field_name: null,
        pandas_type: "unicode",
        numpy_type: "object",
        metadata: { encoding: "UTF-8" },
      },
    ],
    columns: ordered,
    creator: { library: "mlbatch" },
  });
}
