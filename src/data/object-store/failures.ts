/**
 * What an object store's failures mean, in mlbatch's words: the URI, why, and what to do. Nothing secret
 * is in them: the SDK's messages name no credential, and mlbatch adds none.
 */
import { MlbatchError, messageOf } from "../../errors.js";
import type { ObjectStoreSettings } from "./settings.js";

/** What was being done: reading inputs, or writing outputs. */
export type ObjectAccess = "read" | "write";

/** The HTTP status of an SDK error, if it has one. */
export function statusOf(error: unknown): number | undefined {
  return (error as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
}

/** The SDK's error name (`NoSuchKey`, `AccessDenied`, `PreconditionFailed`, ...). */
export function nameOf(error: unknown): string {
  return (error as { name?: string }).name ?? "";
}

/** True when a conditional request was refused because of what exists (HTTP 412, or 409 while racing). */
export function isPreconditionFailed(error: unknown): boolean {
  const status = statusOf(error);
  return (
    status === 412 || nameOf(error) === "PreconditionFailed" || nameOf(error) === "ConditionalRequestConflict"
  );
}

/** True when the object (or bucket) does not exist. */
export function isNotFound(error: unknown): boolean {
  const name = nameOf(error);
  return statusOf(error) === 404 || name === "NoSuchKey" || name === "NotFound";
}

/** What an SDK failure says: its kind, and `why` (name, HTTP status, message) for the error's text. */
export interface S3Failure {
  readonly kind: "no-credentials" | "refused" | "no-bucket" | "other";
  readonly why: string;
}

/**
 * Sorts an SDK failure: no credentials found, credentials refused (403, `AccessDenied`,
 * `InvalidAccessKeyId`, `SignatureDoesNotMatch`), no such bucket, or anything else.
 */
export function s3Failure(error: unknown): S3Failure {
  const name = nameOf(error);
  const status = statusOf(error);
  const why = `${name || "error"}${status === undefined ? "" : ` (HTTP ${status})`}: ${messageOf(error)}`;
  if (name === "CredentialsProviderError" || /could not load credentials/i.test(messageOf(error))) {
    return { kind: "no-credentials", why };
  }
  if (
    status === 403 ||
    name === "AccessDenied" ||
    name === "InvalidAccessKeyId" ||
    name === "SignatureDoesNotMatch"
  ) {
    return { kind: "refused", why };
  }
  return { kind: name === "NoSuchBucket" ? "no-bucket" : "other", why };
}

/**
 * The error for a failed request on `uri`: `E_AUTH` for missing or refused credentials, else `E_READ`
 * or `E_WRITE` (by `access`), each saying what to check.
 */
export function objectStoreError(
  uri: string,
  access: ObjectAccess,
  error: unknown,
  settings: ObjectStoreSettings,
): MlbatchError {
  if (error instanceof MlbatchError) return error;
  const { kind, why } = s3Failure(error);
  const verb = access === "read" ? "cannot read" : "cannot write";
  const code = access === "read" ? "E_READ" : "E_WRITE";
  if (kind === "no-credentials") {
    return new MlbatchError(
      "E_AUTH",
      `${verb} "${uri}": no AWS credentials were found (${why}). Set AWS_ACCESS_KEY_ID and ` +
        "AWS_SECRET_ACCESS_KEY, AWS_PROFILE, or run with a role (web identity / IRSA, instance profile).",
      { cause: error },
    );
  }
  if (kind === "refused") {
    return new MlbatchError(
      "E_AUTH",
      `${verb} "${uri}": the object store refused the credentials (${why}). Check AWS_ACCESS_KEY_ID / ` +
        `AWS_SECRET_ACCESS_KEY (or AWS_PROFILE, the role) and the bucket's policy${access === "write" ? "; nothing was written" : ""}.`,
      { cause: error },
    );
  }
  if (kind === "no-bucket") {
    return new MlbatchError(code, `${verb} "${uri}": the bucket does not exist (${why}). Check the URI.`, {
      cause: error,
    });
  }
  const where =
    settings.endpoint === undefined
      ? "For an S3-compatible store, set AWS_ENDPOINT_URL_S3 (or AWS_ENDPOINT_URL) to its URL."
      : `The endpoint is ${settings.endpoint} (AWS_ENDPOINT_URL_S3 / AWS_ENDPOINT_URL): check that it answers.`;
  const tries = (error as { $metadata?: { attempts?: number } }).$metadata?.attempts ?? 1;
  return new MlbatchError(
    code,
    `${verb} "${uri}" (${why}) after ${tries} ${tries === 1 ? "try" : "tries"}. ${where} ` +
      (access === "write" ? "Nothing was written; run again." : "Run again when the store answers."),
    { cause: error },
  );
}
