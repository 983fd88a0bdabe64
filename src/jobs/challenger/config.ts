import * as z from "zod";
import { messageOf } from "../../errors.js";
import { parseModelUri } from "../../registry/model-uri.js";

/** `job.challenger`: a second version that predicts the same batches, compared with the Champion. */
export const ChallengerConfig = z
  .strictObject({
    alias_or_version: z
      .union([z.string().min(1), z.int().positive()])
      .optional()
      .describe("Registry alias or version of the challenger (of mlflow_service.registry_name)."),
    model_uri: z
      .string()
      .min(1)
      .optional()
      .describe("The challenger as an MLflow URI (models:/..., runs:/...), instead of alias_or_version."),
  })
  .superRefine((config, context) => {
    if ((config.alias_or_version === undefined) === (config.model_uri === undefined)) {
      context.addIssue({
        code: "custom",
        path: [],
        message: "name the challenger with exactly one of alias_or_version or model_uri",
      });
    }
    if (config.model_uri === undefined) return;
    try {
      parseModelUri(config.model_uri);
    } catch (error) {
      context.addIssue({ code: "custom", path: ["model_uri"], message: messageOf(error) });
    }
  })
  .describe(
    "A second model version run on the same batches: its outputs are written as challenger_<column>, " +
      "and the run report compares them with the champion's (docs/report.md).",
  );
export type ChallengerConfig = z.infer<typeof ChallengerConfig>;
