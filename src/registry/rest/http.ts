import { createWriteStream } from "node:fs";
import http, { type IncomingMessage } from "node:http";
import https from "node:https";
import { Transform } from "node:stream";
import { pipeline } from "node:stream/promises";
import { MlbatchError, messageOf } from "../../errors.js";
import type { Logger } from "../../log.js";
import { authorizationHeader, type Connection } from "./connection.js";
import { type Outcome, parseRetryAfter, type RetryPolicy, retrying, type Transient } from "./retry.js";

/** An answer whose status the caller handles itself (e.g. 404 for "no such model"). */
export interface JsonAnswer {
  readonly status: number;
  readonly json: unknown;
}

/**
 * How a POST may be repeated after a failed try. `idempotent`: like a GET, after any transient failure
 * (repeating it changes nothing: `runs/log-batch` of the same values, `runs/update`). Otherwise (the
 * default) only when the server surely did not process it: the connection was never made (refused, host
 * not found, unreachable) or the server answered 408, 429 or 503. After a failure that leaves it unsure
 * (a timeout, a connection reset or cut answer, a 502 or 504 from a gateway), `reconcile` asks the server
 * whether the first try took effect: its answer stands for the request's, `undefined` means "it did not",
 * and the request is tried again. Without `reconcile`, such a failure is final.
 */
export interface PostOptions {
  /** Failure statuses returned to the caller instead of thrown (e.g. `[400]`). */
  readonly accept?: readonly number[] | undefined;
  /** Repeating the request changes nothing: retry it like a GET. */
  readonly idempotent?: boolean | undefined;
  /** Finds out whether a try that may have been processed was; `undefined`: it was not. */
  readonly reconcile?: (() => Promise<JsonAnswer | undefined>) | undefined;
}

/** A request: a GET, or a POST or PUT with its body. */
interface RequestSpec {
  readonly method: "GET" | "POST" | "PUT";
  readonly body?: Buffer | undefined;
  readonly contentType?: string | undefined;
}
const GET: RequestSpec = { method: "GET" };

/** How a failed try may be repeated (see {@link PostOptions}). */
type Repeat<T> =
  | { readonly idempotent: true }
  | { readonly idempotent: false; readonly reconcile?: (() => Promise<T | undefined>) | undefined };

/**
 * The result of one try; a transient failure says whether the server surely did not process the request
 * (nothing reached it, or it answered 408, 429 or 503), which makes any request safe to repeat.
 */
type Tried<T> = { readonly ok: T } | { readonly transient: Transient; readonly unprocessed: boolean };

/** Statuses worth another try (MLflow's list, less 500: a 500 is MLflow's final answer, e.g. a missing file). */
const RETRY_STATUSES = new Set([408, 429, 502, 503, 504]);
/** Statuses by which a server says it did not process the request (a 502 or 504 gateway cannot know). */
const UNPROCESSED_STATUSES = new Set([408, 429, 503]);
/** Network errors raised before anything reached the server. */
const UNSENT_CODES = new Set(["ECONNREFUSED", "ENOTFOUND", "EAI_AGAIN", "EHOSTUNREACH", "ENETUNREACH"]);
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
  MLBATCH_TIMEOUT: "timeout",
};

/**
 * Talks to an MLflow tracking server over HTTP(S) as MLflow's Python client does: auth header, TLS options,
 * a per-request timeout (for the connection and between bytes), and retries with exponential backoff and
 * jitter on connection errors, timeouts and 408, 429, 502, 503, 504 answers (honouring `Retry-After`).
 * Answers that are MLflow's final word (400, 401, 403, 404, 500, and the 503 of a server that does not
 * serve artifacts) fail at once. GETs and PUTs (an upload replaces the file) are retried so; a POST only
 * when told it is idempotent, or when the server surely did not process it (see {@link PostOptions}): a
 * POST that creates something must not be repeated blindly. Built on `node:http(s)`: its agents take a CA bundle, client certificates
 * and `rejectUnauthorized` per server, which Node's global `fetch` cannot without the `undici` package.
 *
 * @example
 * ```ts
 * const client = new HttpClient(connectionFromEnv("http://127.0.0.1:5000"), MLFLOW_RETRY_POLICY);
 * const { json } = await client.getJson("/api/2.0/mlflow/registered-models/get", { name: "bikes" });
 * client.close();
 * ```
 */
export class HttpClient {
  private readonly agent: http.Agent;

  /**
   * @param connection - the server's base URI, credentials and TLS options
   * @param policy - timeout and retries
   * @param logger - where retries are logged
   */
  constructor(
    readonly connection: Connection,
    private readonly policy: RetryPolicy,
    private readonly logger?: Logger | undefined,
  ) {
    const { tls } = connection;
    this.agent = connection.baseUri.startsWith("https:")
      ? new https.Agent({
          keepAlive: true,
          maxSockets: 8,
          rejectUnauthorized: !tls.insecure,
          ...(tls.ca === undefined ? {} : { ca: tls.ca.pem }),
          ...(tls.clientCert === undefined ? {} : { cert: tls.clientCert.pem, key: tls.clientCert.pem }),
        })
      : new http.Agent({ keepAlive: true, maxSockets: 8 });
  }

  /**
   * GETs a JSON endpoint, retrying transient failures.
   *
   * @param path - the path under the base URI, e.g. `/api/2.0/mlflow/registered-models/get`
   * @param query - query parameters
   * @param accept - failure statuses returned to the caller instead of thrown (e.g. `[404]`)
   * @throws MlbatchError `E_AUTH` for 401/403, `E_REGISTRY` for other failures, with the server's message
   */
  async getJson(
    path: string,
    query: Readonly<Record<string, string>> = {},
    accept: readonly number[] = [],
  ): Promise<JsonAnswer> {
    const url = this.url(path, query);
    return this.withRetries<JsonAnswer>(url, this.jsonAnswer(url, GET, accept));
  }

  /**
   * POSTs a JSON body to a JSON endpoint. Retried like a GET only when `options.idempotent`; otherwise
   * only when the server surely did not process it, or when `options.reconcile` says it did not.
   *
   * @param path - the path under the base URI, e.g. `/api/2.0/mlflow/runs/create`
   * @param body - the request, sent as JSON
   * @param options - accepted failure statuses, and how the request may be repeated
   * @throws MlbatchError `E_AUTH` for 401/403, `E_REGISTRY` for other failures, with the server's message
   */
  async postJson(path: string, body: unknown, options: PostOptions = {}): Promise<JsonAnswer> {
    const url = this.url(path, {});
    const request: RequestSpec = {
      method: "POST",
      body: Buffer.from(JSON.stringify(body)),
      contentType: "application/json",
    };
    const repeat: Repeat<JsonAnswer> = options.idempotent
      ? { idempotent: true }
      : { idempotent: false, reconcile: options.reconcile };
    return this.withRetries<JsonAnswer>(
      url,
      this.jsonAnswer(url, request, options.accept ?? []),
      request,
      repeat,
    );
  }

  /**
   * PUTs a file's content (MLflow's artifact upload), retrying transient failures: an upload replaces the
   * file, so repeating it is safe.
   *
   * @param path - the path under the base URI, e.g. `/api/2.0/mlflow-artifacts/artifacts/1/<run>/artifacts/report.json`
   * @param body - the content
   * @param contentType - its media type
   * @throws MlbatchError `E_AUTH` for 401/403, `E_REGISTRY` for other failures, with the server's message
   */
  async put(path: string, body: Buffer, contentType: string): Promise<void> {
    const url = this.url(path, {});
    const request: RequestSpec = { method: "PUT", body, contentType };
    return this.withRetries<void>(
      url,
      async (res) => {
        const answer = await readBody(res);
        const status = res.statusCode ?? 0;
        return status >= 200 && status < 300 ? { ok: undefined } : this.failure(res, answer, url, request);
      },
      request,
    );
  }

  /**
   * Downloads a file, retrying transient failures (including a body shorter than announced), and checks
   * its size.
   *
   * @param path - the path under the base URI
   * @param destination - the file to write (replaced on each try)
   * @param expectedSize - the size the listing gave, if any
   * @returns the number of bytes written
   * @throws MlbatchError `E_REGISTRY` when the file cannot be had, or keeps coming truncated
   */
  async download(path: string, destination: string, expectedSize?: number): Promise<number> {
    const url = this.url(path, {});
    return this.withRetries<number>(url, async (res) => {
      if (res.statusCode !== 200) return this.failure(res, await readBody(res), url);
      const announced = Number(res.headers["content-length"] ?? Number.NaN);
      let received = 0;
      const counter = new Transform({
        transform(chunk: Buffer, _encoding, callback) {
          received += chunk.length;
          callback(null, chunk);
        },
      });
      const expected = expectedSize ?? (Number.isFinite(announced) ? announced : undefined);
      const truncated = (detail: string): Tried<number> => ({
        transient: {
          kind: "truncated",
          reason: `truncated download: ${detail}, received ${received} of ${expected ?? "unknown"} bytes`,
        },
        unprocessed: false,
      });
      try {
        await pipeline(res, counter, createWriteStream(destination));
      } catch (error) {
        if (isFileError(error)) {
          throw new MlbatchError("E_REGISTRY", `cannot write "${destination}": ${messageOf(error)}`, {
            cause: error,
          });
        }
        const transient = this.transient(error);
        if (transient === undefined) throw error;
        return truncated(transient.reason);
      }
      if (expected !== undefined && received !== expected) return truncated("size mismatch");
      return { ok: received };
    });
  }

  /** Closes the kept-alive connections. */
  close(): void {
    this.agent.destroy();
  }

  /** The full URL of a path, for requests (never shown: see {@link HttpClient.show}). */
  private url(path: string, query: Readonly<Record<string, string>>): URL {
    const url = new URL(`${this.connection.baseUri}${path}`);
    for (const [key, value] of Object.entries(query)) url.searchParams.set(key, value);
    return url;
  }

  /** A URL as messages show it: no credentials (the base URI has none), secrets redacted. */
  private show(url: URL): string {
    return this.connection.redact(url.toString());
  }

  /** Reads a JSON answer: 200 or an accepted status gives it, others are failures. */
  private jsonAnswer(
    url: URL,
    request: RequestSpec,
    accept: readonly number[],
  ): (res: IncomingMessage) => Promise<Tried<JsonAnswer>> {
    return async (res) => {
      const body = await readBody(res);
      if (res.statusCode === 200 || accept.includes(res.statusCode ?? 0)) {
        return { ok: { status: res.statusCode ?? 0, json: parseJson(body, url, this.connection, request) } };
      }
      return this.failure(res, body, url, request);
    };
  }

  private async withRetries<T>(
    url: URL,
    handle: (res: IncomingMessage) => Promise<Tried<T>>,
    request: RequestSpec = GET,
    repeat: Repeat<T> = { idempotent: true },
  ): Promise<T> {
    const what = `${request.method} ${this.show(url)}`;
    const attempt = async (): Promise<Outcome<T>> => {
      const tried = await this.send(url, handle, request);
      if ("ok" in tried || repeat.idempotent || tried.unprocessed) return tried;
      // The server may have processed the request: repeating it blindly could do it twice.
      if (repeat.reconcile === undefined) throw this.unsure(what, tried.transient);
      const done = await repeat.reconcile();
      return done === undefined ? tried : { ok: done };
    };
    return retrying(this.policy, what, this.logger, attempt, (last, tries, seconds) =>
      this.exhausted(what, last, tries, seconds),
    );
  }

  /** One request; network failures and timeouts become transient outcomes, TLS failures final errors. */
  private send<T>(
    url: URL,
    handle: (res: IncomingMessage) => Promise<Tried<T>>,
    request: RequestSpec,
  ): Promise<Tried<T>> {
    const headers: Record<string, string> = { accept: "application/json, */*", "user-agent": "mlbatch" };
    const authorization = authorizationHeader(this.connection.credentials);
    if (authorization !== undefined) headers.authorization = authorization;
    if (request.body !== undefined) {
      headers["content-type"] = request.contentType ?? "application/octet-stream";
      headers["content-length"] = String(request.body.length);
    }
    const timeout = this.policy.timeout * 1000;
    return new Promise((resolve, reject) => {
      let settled = false;
      const settle = (outcome: Tried<T> | undefined, error?: unknown) => {
        if (settled) return;
        settled = true;
        if (outcome !== undefined) resolve(outcome);
        else reject(error);
      };
      let response: IncomingMessage | undefined;
      const fail = (error: unknown) => {
        const transient = this.transient(error);
        if (transient === undefined) settle(undefined, this.finalError(error, url, request));
        else {
          const code = (error as { code?: string }).code ?? "";
          settle({ transient, unprocessed: response === undefined && UNSENT_CODES.has(code) });
        }
      };
      const sent = (url.protocol === "https:" ? https : http).request(url, {
        method: request.method,
        headers,
        agent: this.agent,
        timeout,
      });
      sent.on("timeout", () => {
        const error = Object.assign(new Error(`no answer within ${this.policy.timeout} s`), {
          code: "MLBATCH_TIMEOUT",
        });
        response?.destroy(error); // the handler reading the answer fails with the timeout
        sent.destroy(error);
      });
      // Once an answer is being read, its handler settles (it fails too when the request is destroyed), so
      // that no write of this try can land after the next try has started.
      sent.on("error", (error) => {
        if (response === undefined) fail(error);
      });
      sent.on("response", (res) => {
        response = res;
        handle(res).then((outcome) => settle(outcome), fail);
      });
      sent.end(request.body);
    });
  }

  /** The transient failure a thrown error stands for, or undefined when it is final. */
  private transient(error: unknown): Transient | undefined {
    if (error instanceof MlbatchError) return undefined;
    const code = (error as { code?: string }).code ?? "";
    const known = RETRY_CODES[code];
    if (code === "MLBATCH_TIMEOUT")
      return { kind: "network", reason: `timeout: ${messageOf(error)}`, cause: error };
    if (known !== undefined) return { kind: "network", reason: `${known} (${code})`, cause: error };
    if (messageOf(error) === "aborted") {
      return { kind: "network", reason: "connection closed before the end of the answer", cause: error };
    }
    return undefined;
  }

  private finalError(error: unknown, url: URL, request: RequestSpec): MlbatchError {
    if (error instanceof MlbatchError) return error;
    const code = (error as { code?: string }).code ?? "";
    const base = this.connection.baseUri;
    if (/CERT|SSL|TLS|SELF_SIGNED|UNABLE_TO_(GET|VERIFY)/.test(code)) {
      return new MlbatchError(
        "E_REGISTRY",
        `cannot open a TLS connection to MLflow tracking server ${base} (${code}: ${messageOf(error)}). ` +
          "If the server's certificate is signed by your own CA, set MLFLOW_TRACKING_SERVER_CERT_PATH to that CA's " +
          "PEM bundle; to skip the check (tests only), set MLFLOW_TRACKING_INSECURE_TLS=true.",
        { cause: error },
      );
    }
    return new MlbatchError(
      "E_REGISTRY",
      `${request.method} ${this.show(url)} failed: ${this.connection.redact(messageOf(error))}${code ? ` (${code})` : ""}.`,
      { cause: error },
    );
  }

  /** The error of a request that failed after the server may have processed it, and is not repeated. */
  private unsure(what: string, last: Transient): MlbatchError {
    return new MlbatchError(
      "E_REGISTRY",
      this.connection.redact(
        `${what} failed (${last.reason}) after the server may have processed it: not repeated, as that could ` +
          `do it twice. Check on MLflow tracking server ${this.connection.baseUri} whether it took effect.`,
      ),
      { cause: last.cause },
    );
  }

  /** What a non-200 answer means: transient (retry), or a final error. */
  private failure<T>(res: IncomingMessage, body: Buffer, url: URL, request: RequestSpec = GET): Tried<T> {
    const status = res.statusCode ?? 0;
    const text = this.connection.redact(body.toString("utf8").slice(0, 500).trim());
    const answer = `HTTP ${status}${serverMessage(text)}`;
    const base = this.connection.baseUri;
    const { credentials } = this.connection;
    if (status === 401) {
      throw new MlbatchError(
        "E_AUTH",
        credentials.kind === "none"
          ? `MLflow tracking server ${base} requires authentication (${answer}). Set MLFLOW_TRACKING_USERNAME and ` +
              "MLFLOW_TRACKING_PASSWORD (Basic auth), or MLFLOW_TRACKING_TOKEN (a bearer token)."
          : `MLflow tracking server ${base} rejected the credentials of ${credentials.source} (${answer}). ` +
              "Check them, or set the other kind: MLFLOW_TRACKING_USERNAME and MLFLOW_TRACKING_PASSWORD (Basic auth), " +
              "or MLFLOW_TRACKING_TOKEN (a bearer token).",
      );
    }
    if (status === 403 && /invalid host header/i.test(text)) {
      throw new MlbatchError(
        "E_REGISTRY",
        `MLflow tracking server ${base} refused the host name "${url.host}" (${answer}): MLflow 3.5+ servers only ` +
          'answer the host names they allow. Start the server with --allowed-hosts "' +
          `${url.host}" (or reach it by a name it allows).`,
      );
    }
    if (status === 403) {
      const read = request.method === "GET";
      throw new MlbatchError(
        "E_AUTH",
        `MLflow tracking server ${base} denied access to ${request.method} ${this.show(url)} (${answer}). ` +
          (credentials.kind === "none"
            ? "Set MLFLOW_TRACKING_USERNAME and MLFLOW_TRACKING_PASSWORD, or MLFLOW_TRACKING_TOKEN, to a user allowed to " +
              `${read ? "read the model" : "log runs in this experiment"}.`
            : `The user of ${credentials.source} lacks the permission to ${read ? "read this model" : "log runs in this experiment"}: ` +
              "ask the server's admin, or use other credentials."),
      );
    }
    if (status === 503 && /serve-artifacts/.test(text)) {
      throw new MlbatchError(
        "E_REGISTRY",
        `MLflow tracking server ${base} does not serve artifacts (${answer}): it was started with --no-serve-artifacts. ` +
          "Start it with --serve-artifacts, or register models whose artifacts this machine can read directly (s3://, file:).",
      );
    }
    if (RETRY_STATUSES.has(status)) {
      return {
        transient: {
          kind: "status",
          reason: answer,
          retryAfter: parseRetryAfter(header(res, "retry-after")),
        },
        unprocessed: UNPROCESSED_STATUSES.has(status),
      };
    }
    throw new MlbatchError("E_REGISTRY", `${request.method} ${this.show(url)} failed: ${answer}.`);
  }

  private exhausted(what: string, last: Transient, tries: number, seconds: number): MlbatchError {
    const base = this.connection.baseUri;
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
    return new MlbatchError("E_REGISTRY", this.connection.redact(message), { cause: last.cause });
  }
}

function header(res: IncomingMessage, name: string): string | undefined {
  const value = res.headers[name];
  return Array.isArray(value) ? value[0] : value;
}

async function readBody(res: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of res) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

function parseJson(body: Buffer, url: URL, connection: Connection, request: RequestSpec): unknown {
  const text = body.toString("utf8");
  try {
    return text.trim() === "" ? {} : JSON.parse(text);
  } catch (error) {
    throw new MlbatchError(
      "E_REGISTRY",
      `${request.method} ${connection.redact(url.toString())} answered something that is not JSON ("${connection.redact(text.slice(0, 120))}"): ` +
        "is the URI that of an MLflow tracking server?",
      { cause: error },
    );
  }
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

function isFileError(error: unknown): boolean {
  return typeof (error as { path?: unknown }).path === "string";
}
