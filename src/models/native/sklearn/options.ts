import * as z from "zod";

/**
 * The options of natively run scikit-learn models, to spread into a loader's strict object (the same
 * `probabilities` as the other native flavors').
 */
export const SklearnOptionsConfig = {
  probabilities: z
    .boolean()
    .optional()
    .describe(
      "For scikit-learn classifiers run natively: also write the class probabilities (predict_proba), one column " +
        "`probability_<class>` per class in `classes_` order, after `prediction` (the label). Default false.",
    ),
};

/** What {@link loadSklearnModel} takes from a loader's config. */
export interface SklearnOptions {
  readonly probabilities?: boolean | undefined;
  /** The loader's `feature_columns`: what names the features of a model fitted without column names. */
  readonly feature_columns?: readonly string[] | undefined;
  /** The tree engine's worker threads (default: one per core). */
  readonly engine_threads?: number | undefined;
}
