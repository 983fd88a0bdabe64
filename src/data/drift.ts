/**
 * Drift between two profiles made with the same bins (data/profile.ts): per column the population
 * stability index and the Jensen-Shannon distance of the shares of non-null rows per bin, and a verdict
 * by the usual PSI thresholds (below 0.1 no change, below 0.25 a moderate one, else significant).
 */
import type { ColumnDrift, ColumnProfile, DataProfile, DriftReport } from "../report/sections.js";

/** The share a bin empty on one side is given in the PSI, so that its logarithm stays finite. */
export const PSI_EPSILON = 1e-4;

/** PSI thresholds: `moderate` and `significant` (drifted). */
export interface DriftThresholds {
  readonly moderate: number;
  readonly significant: number;
}

/**
 * The population stability index of two distributions over the same bins:
 * `sum((a - e) * ln(a / e))`, a share of 0 taken as {@link PSI_EPSILON}.
 *
 * @param expected - the reference's shares (they sum to 1)
 * @param actual - the inputs' shares
 */
export function psi(expected: readonly number[], actual: readonly number[]): number {
  let sum = 0;
  expected.forEach((e0, i) => {
    const e = Math.max(e0, PSI_EPSILON);
    const a = Math.max(actual[i] ?? 0, PSI_EPSILON);
    sum += (a - e) * Math.log(a / e);
  });
  return sum;
}

/**
 * The Jensen-Shannon distance of two distributions over the same bins, base 2 (in [0, 1]): the square
 * root of the divergence, as `scipy.spatial.distance.jensenshannon(p, q, base=2)` gives it.
 */
export function jsDistance(p: readonly number[], q: readonly number[]): number {
  let divergence = 0;
  p.forEach((pi, i) => {
    const qi = q[i] ?? 0;
    const m = (pi + qi) / 2;
    if (pi > 0) divergence += (pi * Math.log2(pi / m)) / 2;
    if (qi > 0) divergence += (qi * Math.log2(qi / m)) / 2;
  });
  return Math.sqrt(Math.max(divergence, 0));
}

/** Counts as shares of their sum (all zeros when the sum is 0). */
export function shares(counts: readonly number[]): number[] {
  const total = counts.reduce((a, b) => a + b, 0);
  return counts.map((c) => (total === 0 ? 0 : c / total));
}

/** A column's counts per bin (a categorical column's `other` last) and the bins' labels. */
function binned(profile: ColumnProfile): { counts: number[]; bins: string[] } {
  if (profile.kind === "categorical") {
    return {
      counts: [...profile.top.map((t) => t.count), profile.other],
      bins: [...profile.top.map((t) => t.value), "(other)"],
    };
  }
  const { edges, counts } = profile.histogram;
  const label = (e: number) => String(Number(e.toPrecision(4)));
  const bins =
    edges.length === 0
      ? ["all"]
      : [
          `<= ${label(edges[0]!)}`,
          ...edges.slice(1).map((e, k) => `(${label(edges[k]!)}, ${label(e)}]`),
          `> ${label(edges[edges.length - 1]!)}`,
        ];
  return { counts: [...counts], bins };
}

/**
 * Compares the inputs' profile with the reference's, column by column (those both profile, of the same
 * kind, with the same bins).
 *
 * @param referenceName - what the reference is, for the report (a path, `model`, `previous`)
 */
export function compareProfiles(
  reference: DataProfile,
  current: DataProfile,
  thresholds: DriftThresholds,
  referenceName: string,
): DriftReport {
  const columns: Record<string, ColumnDrift> = {};
  for (const [name, now] of Object.entries(current.columns)) {
    const before = reference.columns[name];
    if (before === undefined || before.kind !== now.kind) continue;
    const expected = binned(before);
    const actual = binned(now);
    if (expected.counts.length !== actual.counts.length) continue;
    const e = shares(expected.counts);
    const a = shares(actual.counts);
    const value = psi(e, a);
    const level =
      value >= thresholds.significant ? "significant" : value >= thresholds.moderate ? "moderate" : "none";
    columns[name] = {
      kind: now.kind,
      psi: value,
      js_distance: jsDistance(e, a),
      level,
      drifted: level === "significant",
      reference_shares: e,
      current_shares: a,
      bins: expected.bins,
    };
  }
  const drifted = Object.entries(columns)
    .filter(([, c]) => c.drifted)
    .sort(([, x], [, y]) => y.psi - x.psi)
    .map(([name]) => name);
  return {
    reference: referenceName === reference.source ? referenceName : `${referenceName} (${reference.source})`,
    thresholds: { ...thresholds },
    columns,
    drifted,
  };
}
