/**
 * The run report's optional sections, as the JSON report holds them (snake_case): the input profile,
 * drift against a reference profile, and Champion against Challenger. Neutral vocabulary: `data/` computes
 * profiles and drift, `jobs/` the comparison, `report/` renders them.
 */

/** A histogram over bins `(edges[i-1], edges[i]]`, the first from -inf and the last to +inf. */
export interface Histogram {
  /** The inner bin edges, increasing: `edges.length + 1` bins. */
  readonly edges: readonly number[];
  /** Rows per bin (non-null values only). */
  readonly counts: readonly number[];
}

/** The profile of a numeric column. */
export interface NumericProfile {
  readonly kind: "numeric";
  readonly count: number;
  readonly nulls: number;
  readonly min: number | null;
  readonly max: number | null;
  readonly mean: number | null;
  /** Quantiles by probability (`"0.5"`: the median), linear interpolation (numpy's default). */
  readonly quantiles: Readonly<Record<string, number | null>>;
  readonly histogram: Histogram;
}

/** The profile of a categorical column (text or boolean). */
export interface CategoricalProfile {
  readonly kind: "categorical";
  readonly count: number;
  readonly nulls: number;
  /** The most frequent values (the reference's, for a profile compared with one), with their counts. */
  readonly top: readonly { readonly value: string; readonly count: number }[];
  /** Non-null rows holding none of the `top` values. */
  readonly other: number;
}

export type ColumnProfile = NumericProfile | CategoricalProfile;

/** A dataset's profile: what `mlbatch profile` logs and what a run with `drift` computes of its inputs. */
export interface DataProfile {
  /** The format's version. */
  readonly mlbatch_profile: 1;
  /** What was profiled, as the user named it. */
  readonly source: string;
  readonly rows: number;
  readonly columns: Readonly<Record<string, ColumnProfile>>;
}

/** How far one column moved from the reference. */
export interface ColumnDrift {
  readonly kind: ColumnProfile["kind"];
  /** Population stability index over the reference's bins (or categories). */
  readonly psi: number;
  /** Jensen-Shannon distance (base 2: 0 same, 1 disjoint) over the same bins. */
  readonly js_distance: number;
  /** `none` below the moderate threshold, `moderate` below the significant one, else `significant`. */
  readonly level: "none" | "moderate" | "significant";
  /** PSI at or above the significant threshold. */
  readonly drifted: boolean;
  /** The reference's and the inputs' share of non-null rows per bin, in bin order. */
  readonly reference_shares: readonly number[];
  readonly current_shares: readonly number[];
  /** The bins' labels, for reading: `<= 0.24`, `(0.24, 0.36]`, `> 0.9`, or the category. */
  readonly bins: readonly string[];
}

/** The `drift` section of a run report. */
export interface DriftReport {
  /** What the inputs were compared with: a dataset path, `model` or `previous`, and the profile's source. */
  readonly reference: string;
  readonly thresholds: { readonly moderate: number; readonly significant: number };
  readonly columns: Readonly<Record<string, ColumnDrift>>;
  /** The drifted columns, by decreasing PSI. */
  readonly drifted: readonly string[];
}

/** One output column's distribution, as a histogram of a regression or the counts of a classifier. */
export interface Distribution {
  /** Numeric outputs: equal-width bins from `min` to `max`; labels: the counts of the most frequent. */
  readonly bins: readonly string[];
  readonly counts: readonly number[];
  /** True when computed from a uniform sample of the rows (more rows than the sample holds). */
  readonly sampled: boolean;
}

/** How the Champion and the Challenger differ on one output column. */
export interface OutputComparison {
  readonly kind: "regression" | "classification";
  readonly rows: number;
  /** Regression: mean and largest absolute difference, Pearson correlation. */
  readonly mean_abs_diff?: number;
  readonly max_abs_diff?: number;
  readonly correlation?: number | null;
  /** Classification: the share of rows both give the same label, and the label pairs counted. */
  readonly agreement?: number;
  readonly confusion?: readonly {
    readonly champion: string;
    readonly challenger: string;
    readonly count: number;
  }[];
  readonly champion_distribution: Distribution;
  readonly challenger_distribution: Distribution;
  /** The rows that differ most (regression) or disagree (classification), with their ids. */
  readonly top_differences: readonly {
    readonly row: number;
    readonly ids: Readonly<Record<string, string>>;
    readonly champion: number | string;
    readonly challenger: number | string;
  }[];
}

/** The `challenger` section of a run report. */
export interface ChallengerReport {
  readonly uri: string;
  readonly version: number | null;
  readonly run_id: string | null;
  /** Per output column of the Champion (`prediction`), compared with `challenger_<column>`. */
  readonly outputs: Readonly<Record<string, OutputComparison>>;
}

/** The `validation` section of a run report: what validation found (its rows in `validation.report`). */
export interface ValidationSummary {
  readonly valid: boolean;
  readonly rows: { readonly total: number; readonly invalid: number };
  readonly problems: readonly {
    readonly column: string;
    readonly check: string;
    readonly origin: "signature" | "constraints";
    readonly message: string;
    readonly count: number | null;
  }[];
}
