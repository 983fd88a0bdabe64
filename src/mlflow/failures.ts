/**
 * What a failed request to an MLflow tracking server means, in MLflow's terms: which failures are worth
 * another try, and the messages of the others (what failed, why, what to do), never with a secret.
 * The transport that sends the requests is ./client.ts.
 */
import type { IncomingMessage } from "node:http";
import { MlbatchError, messageOf } from "../errors.js";
import { header, isTimeout } from "../http/request.js";
import { parseRetryAfter } from "../http/retry.js";
import type { Connection } from "./connection.js";
import type { MlflowTransient } from "./retry-policy.js";

/** A request: a GET, or a POST or PUT with its body. */
export interface RequestSpec {
  readonly method: "GET" | "POST" | "PUT";
  readonly body?: Buffer | undefined;
  readonly contentType?: string | undefined;
}

/** A GET. */
export const GET: RequestSpec = { method: "GET" };

/**
 * The result of one try; a transient failure says whether the server surely did not process the request
 * (nothing reached it, or it answered 408, 429 or 503), which makes any request safe to repeat.
 */
export type Tried<T> =
  | { readonly ok: T }
  | { readonly transient: MlflowTransient; readonly unprocessed: boolean };

/** Statuses worth another try (MLflow's list, less 500: a 500 is MLflow's final answer, e.g. a missing file). */
const RETRY_STATUSES = new Set([408, 429, 502, 503, 504]);
/** Statuses by which a server says it did not process the request (a 502 or 504 gateway cannot know). */
const UNPROCESSED_STATUSES = new Set([408, 429, 503]);
/** Network errors raised before anything reached the server. */
export const UNSENT_CODES = new Set([
  "ECONNREFUSED",
  "ENOTFOUND",
  "EAI_AGAIN",
  "EHOSTUNREACH",
  "ENETUNREACH",
]);
/** Network errors worth another try. */
const RETRY_CODES: Readonly<Record<string, string>> = {
  ECONNREFUSED: "connection refused",
  ECONNRESET: "connection reset",
  EPIPE: "connection closed",
  ETIMEDOUT: "connection timed out",
  ENOTFOUND: "host not found",
  EAI_AGAIN: "host name lookup failed",
  EHOSTUNREACH: "host unreachable",
  ENETUNREACH: "network unreachable",
  ECONNABORTED: "connection aborted",
  ERR_STREAM_PREMATURE_CLOSE: "connection closed before the end of the answer",
};

/** The code of a thrown error (`ECONNRESET`), or "". */
export function codeOf(error: unknown): string {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === "string" ? code : "";
}

/** The transient failure a thrown error stands for, or undefined when it is final. */
export function networkTransient(error: unknown): MlflowTransient | undefined {
  if (error instanceof MlbatchError) return undefined;
  const code = codeOf(error);
  const known = RETRY_CODES[code];
  if (isTimeout(error)) return { kind: "network", reason: `timeout: ${messageOf(error)}`, cause: error };
  if (known !== undefined) return { kind: "network", reason: `${known} (${code})`, cause: error };
  if (messageOf(error) === "aborted") {
    return { kind: "network", reason: "connection closed before the end of the answer", cause: error };
  }
  return undefined;
}

/** The error of a request that failed for good before any answer: a TLS failure, an invalid request. */
export function requestError(error: unknown, what: string, connection: Connection): MlbatchError {
  if (error instanceof MlbatchError) return error;
  const code = codeOf(error);
  if (/CERT|SSL|TLS|SELF_SIGNED|UNABLE_TO_(GET|VERIFY)/.test(code)) {
    return new MlbatchError(
      "E_REGISTRY",
      `cannot open a TLS connection to MLflow tracking server ${connection.baseUri} (${code}: ${messageOf(error)}). ` +
        "If the server's certificate is signed by your own CA, set MLFLOW_TRACKING_SERVER_CERT_PATH to that CA's " +
        "PEM bundle; to skip the check (tests only), set MLFLOW_TRACKING_INSECURE_TLS=true.",
      { cause: error },
    );
  }
  return new MlbatchError(
    "E_REGISTRY",
    `${what} failed: ${connection.redact(messageOf(error))}${code ? ` (${code})` : ""}.`,
    { cause: error },
  );
}

/** The error of a request that failed after the server may have processed it, and is not repeated. */
export function unsureError(what: string, last: MlflowTransient, connection: Connection): MlbatchError {
  return new MlbatchError(
    "E_REGISTRY",
    connection.redact(
      `${what} failed (${last.reason}) after the server may have processed it: not repeated, as that could ` +
        `do it twice. Check on MLflow tracking server ${connection.baseUri} whether it took effect.`,
    ),
    { cause: last.cause },
  );
}

/** The error once every try of a request failed, saying what to do for its kind of failure. */
export function exhaustedError(
  what: string,
  last: MlflowTransient,
  tries: number,
  seconds: number,
  connection: Connection,
): MlbatchError {
  const base = connection.baseUri;
  const tried = `${tries} ${tries === 1 ? "try" : "tries"} in ${seconds.toFixed(1)} s`;
  const message =
    last.kind === "truncated"
      ? `${what}: ${last.reason} (${tried}). The connection or a proxy cuts the transfer: try again, or raise ` +
        "mlflow_service.http.max_retries."
      : last.kind === "network"
        ? `MLflow tracking server ${base} is unreachable: ${last.reason} (${what}, ${tried}). Check that the server ` +
          "runs and that mlflow_service.tracking_uri / registry_uri (or MLFLOW_TRACKING_URI) point to it; " +
          "mlflow_service.http sets the timeout and retries."
        : `MLflow tracking server ${base} kept failing: ${last.reason} (${what}, ${tried}). The server is overloaded ` +
          "or restarting: try again later, or raise mlflow_service.http.max_retries.";
  return new MlbatchError("E_REGISTRY", connection.redact(message), { cause: last.cause });
}

/**
 * What an answer other than the one asked for means: transient (another try), or a final error that says
 * what to do (credentials, permissions, allowed hosts, artifact serving).
 *
 * @param res - the answer
 * @param body - its body
 * @param url - the request's URL
 * @param request - the request
 * @param connection - the server's connection, for its URI, credentials and redaction
 * @throws MlbatchError `E_AUTH` for 401 and 403, `E_REGISTRY` for other final answers
 */
export function answerFailure<T>(
  res: IncomingMessage,
  body: Buffer,
  url: URL,
  request: RequestSpec,
  connection: Connection,
): Tried<T> {
  const status = res.statusCode ?? 0;
  const text = connection.redact(body.toString("utf8").slice(0, 500).trim());
  const answer = `HTTP ${status}${serverMessage(text)}`;
  if (status === 401) throw unauthorized(connection, answer);
  if (status === 403) throw forbidden(connection, answer, url, request, text);
  if (status === 503 && /serve-artifacts/.test(text)) {
    throw new MlbatchError(
      "E_REGISTRY",
      `MLflow tracking server ${connection.baseUri} does not serve artifacts (${answer}): it was started with ` +
        "--no-serve-artifacts. Start it with --serve-artifacts, or register models whose artifacts this machine " +
        "can read directly (s3://, file:).",
    );
  }
  if (RETRY_STATUSES.has(status)) {
    return {
      transient: { kind: "status", reason: answer, retryAfter: parseRetryAfter(header(res, "retry-after")) },
      unprocessed: UNPROCESSED_STATUSES.has(status),
    };
  }
  throw new MlbatchError(
    "E_REGISTRY",
    `${request.method} ${connection.redact(url.toString())} failed: ${answer}.`,
  );
}

/** The error of an answer that should be JSON and is not: another server at that URI? */
export function notJsonError(
  text: string,
  url: URL,
  request: RequestSpec,
  connection: Connection,
  cause: unknown,
): MlbatchError {
  return new MlbatchError(
    "E_REGISTRY",
    `${request.method} ${connection.redact(url.toString())} answered something that is not JSON ` +
      `("${connection.redact(text.slice(0, 120))}"): is the URI that of an MLflow tracking server?`,
    { cause },
  );
}

function unauthorized(connection: Connection, answer: string): MlbatchError {
  const { baseUri: base, credentials } = connection;
  return new MlbatchError(
    "E_AUTH",
    credentials.kind === "none"
      ? `MLflow tracking server ${base} requires authentication (${answer}). Set MLFLOW_TRACKING_USERNAME and ` +
          "MLFLOW_TRACKING_PASSWORD (Basic auth), or MLFLOW_TRACKING_TOKEN (a bearer token)."
      : `MLflow tracking server ${base} rejected the credentials of ${credentials.source} (${answer}). ` +
          "Check them, or set the other kind: MLFLOW_TRACKING_USERNAME and MLFLOW_TRACKING_PASSWORD (Basic auth), " +
          "or MLFLOW_TRACKING_TOKEN (a bearer token).",
  );
}

function forbidden(
  connection: Connection,
  answer: string,
  url: URL,
  request: RequestSpec,
  text: string,
): MlbatchError {
  const { baseUri: base, credentials } = connection;
  if (/invalid host header/i.test(text)) {
    return new MlbatchError(
      "E_REGISTRY",
      `MLflow tracking server ${base} refused the host name "${url.host}" (${answer}): MLflow 3.5+ servers only ` +
        `answer the host names they allow. Start the server with --allowed-hosts "${url.host}" (or reach it by a ` +
        "name it allows).",
    );
  }
  const read = request.method === "GET";
  return new MlbatchError(
    "E_AUTH",
    `MLflow tracking server ${base} denied access to ${request.method} ${connection.redact(url.toString())} (${answer}). ` +
      (credentials.kind === "none"
        ? "Set MLFLOW_TRACKING_USERNAME and MLFLOW_TRACKING_PASSWORD, or MLFLOW_TRACKING_TOKEN, to a user allowed to " +
          `${read ? "read the model" : "log runs in this experiment"}.`
        : `The user of ${credentials.source} lacks the permission to ${read ? "read this model" : "log runs in this experiment"}: ` +
          "ask the server's admin, or use other credentials."),
  );
}

/** `: <error_code>: <message>` of an MLflow error body, or the start of any other body. */
function serverMessage(text: string): string {
  if (text === "") return "";
  try {
    const { error_code, message } = JSON.parse(text) as { error_code?: string; message?: string };
    if (message !== undefined) return `: ${error_code === undefined ? "" : `${error_code}: `}${message}`;
  } catch {
    // not JSON: the text itself
  }
  return `: ${text.replace(/\s+/g, " ").slice(0, 200)}`;
}
