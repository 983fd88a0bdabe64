import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type ColumnConstraint, Constraints } from "../../src/data/constraints.js";
import { Database } from "../../src/data/database.js";
import { validateInputs } from "../../src/data/schema.js";
import { Source } from "../../src/data/source.js";
import { quotedString } from "../../src/data/sql.js";
import type { FeatureSpec } from "../../src/models/model.js";

let db: Database;
beforeAll(async () => {
  db = await Database.create();
});
afterAll(() => db.close());

interface Row {
  readonly a: number | null;
  readonly b: number | null;
  readonly s: string | null;
}

const row = fc.record({
  a: fc.option(fc.integer({ min: -5, max: 5 }), { freq: 5 }),
  b: fc.option(
    fc.integer({ min: -8, max: 8 }).map((x) => x / 4),
    { freq: 5 },
  ),
  s: fc.option(fc.stringMatching(/^[abc]{0,3}$/), { freq: 5 }),
});
const bound = fc.option(fc.integer({ min: -4, max: 4 }), { nil: undefined });
const numeric = fc.record(
  {
    nullable: fc.boolean(),
    ge: bound,
    gt: bound,
    le: bound,
    lt: bound,
    isin: fc.option(fc.uniqueArray(fc.integer({ min: -5, max: 5 }), { minLength: 1, maxLength: 4 }), {
      nil: undefined,
    }),
  },
  { requiredKeys: [] },
);
const text = fc.record(
  {
    nullable: fc.boolean(),
    isin: fc.option(fc.uniqueArray(fc.stringMatching(/^[abc]{0,2}$/), { minLength: 1, maxLength: 3 }), {
      nil: undefined,
    }),
    regex: fc.option(fc.constantFrom("a*", "[ab]c?", "b+|c", ".*c", "(ab)?"), { nil: undefined }),
  },
  { requiredKeys: [] },
);

/** The failing rows of one check, by brute force in JS. */
function failures(rows: readonly Row[], column: keyof Row, c: Partial<ColumnConstraint>, signature: boolean) {
  const counts: Record<string, number> = {};
  const failed = rows.map(() => false);
  const fail = (check: string, test: (v: number | string) => boolean, nulls = false) => {
    let n = 0;
    rows.forEach((r, i) => {
      const v = r[column];
      if (v === null ? nulls : test(v)) {
        n++;
        failed[i] = true;
      }
    });
    if (n > 0) counts[check] = n;
  };
  if (signature || c.nullable === false || c.nullable === undefined) fail("null", () => false, true);
  if (c.ge !== undefined) fail("ge", (v) => (v as number) < (c.ge as number));
  if (c.gt !== undefined) fail("gt", (v) => (v as number) <= (c.gt as number));
  if (c.le !== undefined) fail("le", (v) => (v as number) > (c.le as number));
  if (c.lt !== undefined) fail("lt", (v) => (v as number) >= (c.lt as number));
  if (c.isin !== undefined) fail("isin", (v) => !(c.isin as unknown[]).includes(v));
  if (c.regex !== undefined) fail("regex", (v) => !new RegExp(`^(?:${c.regex})$`).test(String(v)));
  return { counts, failed };
}

function literal(v: number | string | null, type: string): string {
  return v === null ? `NULL::${type}` : typeof v === "string" ? quotedString(v) : `${v}::${type}`;
}

describe("validation counts (property)", () => {
  it("given random tables and constraints, when validated, then every count equals a brute-force check", async () => {
    let n = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.array(row, { maxLength: 40 }),
        numeric,
        numeric,
        text,
        fc.boolean(),
        async (rows, ca, cb, cs, signed) => {
          const name = `p${n++}`;
          const values = rows
            .map(
              (r, i) =>
                `(${i}, ${literal(r.a, "INTEGER")}, ${literal(r.b, "DOUBLE")}, ${literal(r.s, "VARCHAR")})`,
            )
            .join(", ");
          await db.run(
            rows.length === 0
              ? `CREATE TABLE ${name} (id BIGINT, a INTEGER, b DOUBLE, s VARCHAR)`
              : `CREATE TABLE ${name} AS SELECT * FROM (VALUES ${values}) t(id, a, b, s)`,
          );
          const source = await Source.open(db, { from: name, label: name, idColumns: ["id"] });
          // With `signed`, column a is also a signature column: its nulls fail whatever `nullable` says.
          const features: FeatureSpec[] = signed ? [{ name: "a", signatureType: "long", type: "int64" }] : [];
          const constraints = Constraints.parse({ a: ca, b: cb, s: cs });
          const { report } = await validateInputs(db, source, features, "m", { constraints });

          const expected = [
            ["a", failures(rows, "a", constraints.a!, signed)],
            ["b", failures(rows, "b", constraints.b!, false)],
            ["s", failures(rows, "s", constraints.s!, false)],
          ] as const;
          const found: Record<string, number> = {};
          for (const p of report.problems) found[`${p.column}.${p.check}`] = p.count ?? -1;
          const wanted: Record<string, number> = {};
          for (const [column, { counts }] of expected)
            for (const [check, count] of Object.entries(counts)) wanted[`${column}.${check}`] = count;
          expect(found).toEqual(wanted);
          const invalid = rows.filter((_, i) => expected.some(([, e]) => e.failed[i])).length;
          expect(report.rows).toEqual({ total: rows.length, invalid });
          // Each problem's first rows are its first failing rows, in input order.
          for (const p of report.problems) {
            const e = expected.find(([column]) => column === p.column)!;
            const rowsFailing = rows
              .map((r, i) => ({ r, i }))
              .filter(({ r }) => {
                const one = failures(
                  [r],
                  p.column as keyof Row,
                  constraints[p.column]!,
                  signed && p.column === "a",
                );
                return (one.counts[p.check] ?? 0) > 0;
              })
              .map(({ i }) => i);
            expect(p.rows?.map((x) => x.row)).toEqual(rowsFailing.slice(0, 5));
            expect(e).toBeDefined();
          }
          await db.run(`DROP TABLE ${name}`);
        },
      ),
      { numRuns: 150 },
    );
  });
});
