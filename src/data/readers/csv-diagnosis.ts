/**
 * The line DuckDB's CSV sniffer gave up on. The sniffer names no line ("It was not possible to
 * automatically detect the CSV parsing dialect"), typically for a row with extra or missing fields in the
 * first lines; read again with a rejects table, the same file with the same settings names the first bad
 * line and what is wrong with it.
 */
import { randomUUID } from "node:crypto";
import type { Database } from "../database.js";
import { quotedIdentifier, quotedString } from "../sql.js";

/** The sniffer reads this many rows; the line it failed on is among them. */
const SNIFFED_ROWS = 20_480;

/**
 * DuckDB's text for the first rejected line of a CSV file, as its parser would say it
 * (`CSV Error on Line: 3\nExpected Number of Columns: 2 Found: 3`), or undefined when this finds none
 * (a quote that is not closed fails the sniffer again).
 *
 * @param read - `read_csv(...)` of the file with the reader's settings, given the extra options to add
 */
export async function firstRejectedLine(
  db: Database,
  read: (options: string) => string,
): Promise<string | undefined> {
  const id = randomUUID().slice(0, 8);
  const table = `mlbatch_rejects_${id}`;
  const scans = `mlbatch_scans_${id}`;
  const options = `, store_rejects = true, rejects_table = ${quotedString(table)}, rejects_scan = ${quotedString(scans)}`;
  try {
    await db.run(`SELECT count(*) FROM (SELECT 1 FROM ${read(options)} LIMIT ${SNIFFED_ROWS})`);
    const [first] = await db.rows(
      `SELECT line, error_message FROM ${quotedIdentifier(table)} ORDER BY line, line_byte_position LIMIT 1`,
    );
    return first === undefined ? undefined : `CSV Error on Line: ${first.line}\n${first.error_message}`;
  } catch {
    return undefined;
  } finally {
    await db
      .run(`DROP TABLE IF EXISTS ${quotedIdentifier(table)}; DROP TABLE IF EXISTS ${quotedIdentifier(scans)}`)
      .catch(() => undefined);
  }
}
