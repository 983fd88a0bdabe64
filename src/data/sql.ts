/**
 * The one place SQL text is assembled from names and values: a path, a column name or a literal is never
 * pasted raw into SQL.
 */
import { duckdb } from "../packages.js";

const { quotedIdentifier, quotedString } = duckdb;

export { quotedIdentifier, quotedString };

/** `a, b, c` with each name quoted as an identifier. */
export function identifierList(names: readonly string[]): string {
  return names.map(quotedIdentifier).join(", ");
}
