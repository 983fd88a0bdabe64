import * as z from "zod";

/** The options of natively run scikit-learn models, to spread into a loader's config. */
export const SklearnOptionsConfig = {
  probabilities: z
    .boolean()
    .default(false)
    .describe(
      "A classifier's class probabilities (`predict_proba`) as columns `probability_<class>`, after its `prediction` (the label).",
    ),
};

/** The options, as the config gives them (plus the engine's thread count). */
export type SklearnOptions = z.output<z.ZodObject<typeof SklearnOptionsConfig>> & {
  /** Worker threads of the tree engine (default: one per core). */
  readonly engine_threads?: number | undefined;
};
