import * as z from "zod";
import { MlbatchError } from "../errors.js";

/** The MLflow REST API's base path. */
export const API = "/api/2.0/mlflow";

/** The base path of a tracking server's proxied artifacts (`mlflow-artifacts:`). */
export const ARTIFACTS_API = "/api/2.0/mlflow-artifacts/artifacts";

/** MLflow's error body: `{error_code, message}`. */
export const ErrorAnswer = z.looseObject({
  error_code: z.string().optional(),
  message: z.string().optional(),
});

/**
 * Parses an answer of the MLflow REST API.
 *
 * @param schema - what the endpoint answers
 * @param json - the answer
 * @param what - the request, for the message (`runs/create`, `run 3f2a...`)
 * @param server - the server's URI, without credentials
 * @throws MlbatchError `E_REGISTRY` when it is not what MLflow answers (another server at that URI?)
 */
export function parseAnswer<T>(schema: z.ZodType<T>, json: unknown, what: string, server: string): T {
  const parsed = schema.safeParse(json);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0];
  throw new MlbatchError(
    "E_REGISTRY",
    `unexpected answer from ${server} to ${what}: ${issue?.path.join(".") || "answer"}: ${issue?.message}. ` +
      "Is the registry URI that of an MLflow tracking server?",
  );
}
