// The bench's rows as the typed arrays a model's inputs take, read once with DuckDB (untimed by callers).
import { DuckDBInstance } from "@duckdb/node-api";

const SQL_TYPE = { float32: "FLOAT", float64: "DOUBLE", int64: "BIGINT", int32: "INTEGER" };
const ARRAY = { float32: Float32Array, float64: Float64Array, int64: BigInt64Array, int32: Int32Array };

/**
 * Reads a Parquet file's columns named by the inputs' metadata, each cast to the input's type.
 * @returns { count, columns } with one typed array per input, in metadata order
 */
export async function readColumns(meta, inputs, limitRows) {
  const db = await (await DuckDBInstance.create(":memory:")).connect();
  const select = meta.map((m) => `CAST("${m.name}" AS ${SQL_TYPE[m.type]}) AS "${m.name}"`).join(", ");
  const limit = limitRows ? ` LIMIT ${Number(limitRows)}` : "";
  const count = Number(
    (
      await db.runAndReadAll(`SELECT count(*) AS n FROM (SELECT * FROM '${inputs}'${limit})`)
    ).getRowObjectsJS()[0].n,
  );
  const columns = meta.map((m) => new ARRAY[m.type](count));
  const stream = await db.stream(`SELECT ${select} FROM '${inputs}'${limit}`);
  let offset = 0;
  for (
    let chunk = await stream.fetchChunk();
    chunk && chunk.rowCount > 0;
    chunk = await stream.fetchChunk()
  ) {
    meta.forEach((_, i) => {
      columns[i].set(chunk.getColumnVector(i).items, offset);
    });
    offset += chunk.rowCount;
  }
  return { count, columns };
}
