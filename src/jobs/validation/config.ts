/** The job's `validation` config, and the policy the job applies (the same fields, camelCase). */
import * as z from "zod";
import { Constraints } from "../../data/constraints.js";
import { type CamelKeys, camelKeys } from "../../data/options.js";
import { createWriter, type Writer, WriterKind } from "../../data/writers/index.js";

const Cast = z.union([z.literal("safe"), z.literal("unsafe")]);

/** Config of the job's `validation`. */
export const ValidationConfig = z
  .strictObject({
    constraints: Constraints.default({}),
    cast: z
      .union([Cast, z.record(z.string().min(1), Cast)])
      .default("safe")
      .describe(
        "Column types MLflow's pyfunc refuses for their signature type (e.g. float64 data for a float " +
          "input): `safe` refuses them as MLflow does; `unsafe` converts them (rounding floats; a value " +
          "that does not convert, e.g. 2.5 for an integer, is an invalid row). For every column, or per " +
          "column, e.g. {temp: unsafe}.",
      ),
    on_invalid: z
      .union([z.literal("fail"), z.literal("drop"), z.literal("quarantine")])
      .default("fail")
      .describe(
        "Rows failing a row check: `fail` the job (nothing predicted or written), `drop` them, or " +
          "`quarantine` them (written by `quarantine` with their reasons).",
      ),
    quarantine: WriterKind.optional().describe(
      "Writer of the invalid rows, with columns mlbatch_row and mlbatch_reason (on_invalid: quarantine).",
    ),
    max_invalid_rows: z
      .int()
      .nonnegative()
      .optional()
      .describe("With drop or quarantine: fail the job when more rows than this are invalid."),
    max_invalid_fraction: z
      .number()
      .min(0)
      .max(1)
      .optional()
      .describe("With drop or quarantine: fail the job when more than this fraction of rows is invalid."),
    report: z
      .string()
      .min(1)
      .optional()
      .describe("Write the validation report as JSON to this file (also when validation fails)."),
  })
  .superRefine((v, ctx) => {
    if (v.on_invalid === "quarantine" && v.quarantine === undefined)
      ctx.addIssue({
        code: "custom",
        path: ["quarantine"],
        message:
          'missing: on_invalid "quarantine" needs a writer, e.g. {KIND: ParquetWriter, path: quarantine.parquet}',
      });
    if (v.on_invalid !== "quarantine" && v.quarantine !== undefined)
      ctx.addIssue({
        code: "custom",
        path: ["quarantine"],
        message: `only used with on_invalid "quarantine" (it is "${v.on_invalid}")`,
      });
  })
  .describe("Checks of the inputs beyond the signature, and what to do with invalid rows.");
export type ValidationConfig = z.infer<typeof ValidationConfig>;

/** The job's validation settings: the config's fields, camelCase, with the quarantine's writer built. */
export type ValidationPolicy = Omit<CamelKeys<ValidationConfig>, "quarantine"> & {
  readonly quarantine?: Writer | undefined;
};

/** The policy a `validation` config describes. */
export function validationPolicy(config: ValidationConfig): ValidationPolicy {
  const { quarantine, ...rest } = config;
  return { ...camelKeys(rest), quarantine: quarantine && createWriter(quarantine) };
}
