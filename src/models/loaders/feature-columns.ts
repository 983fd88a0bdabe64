import * as z from "zod";

/** The loaders' `feature_columns` option: the columns that feed a model whose signature names none. */
export const FeatureColumnsConfig = {
  feature_columns: z
    .array(z.string().min(1))
    .min(1)
    .optional()
    .describe(
      "Input columns that feed a model whose signature does not name its columns (a tensor signature such as " +
        "float32 [-1, 12], or none), in the order the model takes them. Default: the columns of the input " +
        "example saved with the model, else the input's columns in order (its id columns left out).",
    ),
};
