import * as z from "zod";

/** `job.drift`: the inputs profiled and compared with a reference profile. */
export const DriftConfig = z
  .strictObject({
    reference: z
      .string()
      .min(1)
      .describe(
        "What the inputs are compared with: a dataset path (Parquet, CSV or JSON Lines, e.g. the training " +
          "inputs), a profile file written by `mlbatch profile --output` (*.profile.json), `model` (the " +
          "profile `mlbatch profile --log` logged to the model version's run), or `previous` (the profile in " +
          "the previous run's job.report).",
      ),
    columns: z
      .array(z.string().min(1))
      .optional()
      .describe("The columns profiled and compared. Default: the model's input columns."),
    moderate: z.number().nonnegative().default(0.1).describe("PSI from which a column's drift is moderate."),
    significant: z
      .number()
      .nonnegative()
      .default(0.25)
      .describe("PSI from which a column has drifted (drifted: true)."),
    on_drift: z
      .union([z.literal("warn"), z.literal("fail")])
      .default("warn")
      .describe(
        "warn: the run finishes with a warning naming the drifted columns; fail: it fails (E_DRIFT), " +
          "nothing written.",
      ),
  })
  .refine((c) => c.moderate <= c.significant, {
    path: ["moderate"],
    message: "must not exceed significant",
  })
  .describe(
    "Profile the inputs and compare them with a reference: PSI and Jensen-Shannon distance per column.",
  );
export type DriftConfig = z.infer<typeof DriftConfig>;
