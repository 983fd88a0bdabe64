/**
 * DuckDB's glob syntax (`*` and `?` within a name, `**` across folders, `[...]` classes), matched against
 * local paths (overlap.ts) and object keys (listing an `s3://` glob) alike.
 */

const WILDCARD = /[*?[]/;

/** True when the path has a wildcard. */
export function isGlob(path: string): boolean {
  return WILDCARD.test(path);
}

/** The part of a glob before the folder holding its first wildcard (`data/day=*` -> `data`). */
export function globBase(glob: string): string {
  const parts = glob.split("/");
  const first = parts.findIndex((part) => WILDCARD.test(part));
  return parts.slice(0, first).join("/");
}

/**
 * A glob as a regular expression over whole paths.
 *
 * @example
 * ```ts
 * globPattern("in/day=*\/part-*.parquet").test("in/day=1/part-0.parquet"); // true
 * ```
 */
export function globPattern(glob: string): RegExp {
  let source = "";
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i]!;
    if (c === "*" && glob[i + 1] === "*") {
      source += ".*";
      i++;
    } else if (c === "*") source += "[^/]*";
    else if (c === "?") source += "[^/]";
    else if (c === "[") {
      const end = glob.indexOf("]", i);
      source += end < 0 ? "\\[" : glob.slice(i, end + 1).replace("[!", "[^");
      if (end >= 0) i = end;
    } else source += c.replace(/[.+^${}()|\\]/g, "\\$&");
  }
  return new RegExp(`^${source}$`);
}
