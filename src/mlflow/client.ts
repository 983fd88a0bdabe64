import { createWriteStream } from "node:fs";
import type http from "node:http";
import type { IncomingMessage } from "node:http";
import { Transform } from "node:stream";
import { pipeline } from "node:stream/promises";
import { MlbatchError, messageOf } from "../errors.js";
import { nodeHttp, nodeHttps, readBody, sendRequest } from "../http/request.js";
import { retrying } from "../http/retry.js";
import type { Logger } from "../log.js";
import { authorizationHeader, type Connection, connectionFromEnv } from "./connection.js";
import {
  answerFailure,
  codeOf,
  exhaustedError,
  GET,
  networkTransient,
  notJsonError,
  type RequestSpec,
  requestError,
  type Tried,
  UNSENT_CODES,
  unsureError,
} from "./failures.js";
import { logRetry, mlflowRetries, type RetryPolicy } from "./retry-policy.js";

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

/** How a failed try may be repeated (see {@link PostOptions}). */
type Repeat<T> =
  | { readonly idempotent: true }
  | { readonly idempotent: false; readonly reconcile?: (() => Promise<T | undefined>) | undefined };

/**
 * Talks to an MLflow tracking server over HTTP(S) as MLflow's Python client does: auth header, TLS options,
 * a per-request timeout (for the connection and between bytes), and retries with exponential backoff and
 * jitter on connection errors, timeouts and 408, 429, 502, 503, 504 answers (honouring `Retry-After`).
 * Answers that are MLflow's final word (400, 401, 403, 404, 500, and the 503 of a server that does not
 * serve artifacts) fail at once. GETs and PUTs (an upload replaces the file) are retried so; a POST only
 * when told it is idempotent, or when the server surely did not process it (see {@link PostOptions}): a
 * POST that creates something must not be repeated blindly. What a failure means, and its message, is
 * ./failures.ts; one request is `sendRequest` (http/request.ts), whose agents take this server's TLS options.
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
      ? new (nodeHttps().Agent)({
          keepAlive: true,
          maxSockets: 8,
          rejectUnauthorized: !tls.insecure,
          ...(tls.ca === undefined ? {} : { ca: tls.ca.pem }),
          ...(tls.clientCert === undefined ? {} : { cert: tls.clientCert.pem, key: tls.clientCert.pem }),
        })
      : new (nodeHttp().Agent)({ keepAlive: true, maxSockets: 8 });
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
        return status >= 200 && status < 300
          ? { ok: undefined }
          : answerFailure(res, answer, url, request, this.connection);
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
      if (res.statusCode !== 200) return answerFailure(res, await readBody(res), url, GET, this.connection);
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
        const transient = networkTransient(error);
        if (transient === undefined) throw error;
        return truncated(transient.reason);
      }
      if (expected !== undefined && received !== expected) return truncated("size mismatch");
      return { ok: received };
    });
  }

  /**
   * The client of the server an `mlflow-artifacts://host:port/` URI names: this one when it names none or
   * this server's, else a new one (its caller closes it) on this client's protocol, retries and logger,
   * with that server's credentials and TLS as `env` sets them.
   *
   * @param authority - the URI's `host:port`, if any
   * @param env - the environment (`MLFLOW_TRACKING_*`; default: this process's)
   */
  forAuthority(authority: string | undefined, env?: NodeJS.ProcessEnv): HttpClient {
    if (authority === undefined) return this;
    const base = new URL(this.connection.baseUri);
    if (authority === base.host) return this;
    return new HttpClient(connectionFromEnv(`${base.protocol}//${authority}`, env), this.policy, this.logger);
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
      return answerFailure(res, body, url, request, this.connection);
    };
  }

  private async withRetries<T>(
    url: URL,
    handle: (res: IncomingMessage) => Promise<Tried<T>>,
    request: RequestSpec = GET,
    repeat: Repeat<T> = { idempotent: true },
  ): Promise<T> {
    const what = `${request.method} ${this.show(url)}`;
    const attempt = async (): Promise<Tried<T>> => {
      const tried = await this.send(url, handle, request);
      if ("ok" in tried || repeat.idempotent || tried.unprocessed) return tried;
      // The server may have processed the request: repeating it blindly could do it twice.
      if (repeat.reconcile === undefined) throw unsureError(what, tried.transient, this.connection);
      const done = await repeat.reconcile();
      return done === undefined ? tried : { ok: done };
    };
    return retrying(mlflowRetries(this.policy), attempt, {
      onRetry: logRetry(this.logger, what, this.policy),
      exhausted: (last, tries, seconds) => exhaustedError(what, last, tries, seconds, this.connection),
    });
  }

  /** One request; network failures and timeouts become transient outcomes, TLS failures final errors. */
  private async send<T>(
    url: URL,
    handle: (res: IncomingMessage) => Promise<Tried<T>>,
    request: RequestSpec,
  ): Promise<Tried<T>> {
    const headers: Record<string, string> = { accept: "application/json, */*", "user-agent": "mlbatch" };
    const authorization = authorizationHeader(this.connection.credentials);
    if (authorization !== undefined) headers.authorization = authorization;
    if (request.body !== undefined)
      headers["content-type"] = request.contentType ?? "application/octet-stream";
    let answered = false;
    try {
      return await sendRequest(
        url,
        {
          method: request.method,
          headers,
          body: request.body,
          agent: this.agent,
          idleSeconds: this.policy.timeout,
        },
        (res) => {
          answered = true;
          return handle(res);
        },
      );
    } catch (error) {
      const transient = networkTransient(error);
      if (transient === undefined)
        throw requestError(error, `${request.method} ${this.show(url)}`, this.connection);
      return { transient, unprocessed: !answered && UNSENT_CODES.has(codeOf(error)) };
    }
  }
}

function parseJson(body: Buffer, url: URL, connection: Connection, request: RequestSpec): unknown {
  const text = body.toString("utf8");
  try {
    return text.trim() === "" ? {} : JSON.parse(text);
  } catch (error) {
    throw notJsonError(text, url, request, connection, error);
  }
}

function isFileError(error: unknown): boolean {
  return typeof (error as { path?: unknown }).path === "string";
}
