/**
 * One HTTP(S) request over `node:http(s)`, for every caller that talks HTTP (the MLflow client, the
 * webhook and Slack channels). Built on `node:http(s)` rather than `fetch`: its agents take a CA bundle,
 * client certificates and `rejectUnauthorized` per server, which Node's global `fetch` cannot without the
 * `undici` package. Retries are the caller's, through `retrying` (./retry.ts).
 */
import type http from "node:http";
import type { IncomingMessage } from "node:http";
import { createRequire } from "node:module";

const load = createRequire(import.meta.url);

/**
 * `node:http`, loaded on first use: with `node:https` and TLS, about 7 ms of the start of a run that
 * sends no request (a local registry, the console channel).
 */
export function nodeHttp(): typeof import("node:http") {
  return load("node:http") as typeof import("node:http");
}

/** `node:https`, loaded on first use (see {@link nodeHttp}). */
export function nodeHttps(): typeof import("node:https") {
  return load("node:https") as typeof import("node:https");
}

/** A request: method, headers, body, and how long it may wait. */
export interface RequestOptions {
  readonly method: "GET" | "POST" | "PUT";
  /** Request headers; `content-length` is set here for a body. */
  readonly headers: Readonly<Record<string, string>>;
  readonly body?: Buffer | undefined;
  /** The agent that keeps connections; `false` (default): one connection, closed after the answer. */
  readonly agent?: http.Agent | false | undefined;
  /**
   * Seconds the connection, or the next bytes of the answer, may take; then the request and its answer
   * are destroyed with a `TimeoutError` ({@link isTimeout}).
   */
  readonly idleSeconds?: number | undefined;
  /** Aborts the request (and the answer being read). */
  readonly signal?: AbortSignal | undefined;
}

/**
 * Sends one request and hands its answer to `read`. Settles once: with what `read` returns, or with the
 * error that stopped the request before an answer (a network error, the idle timeout, the signal). Once
 * an answer is being read, only `read` settles (it fails too when the request is destroyed), so that
 * nothing of this request can land after its promise has settled.
 *
 * @param url - an http: or https: URL
 * @param options - method, headers, body, agent, idle timeout, signal
 * @param read - reads the answer (its status, headers and body)
 * @returns what `read` returns
 * @throws synchronously, before anything is sent, when the request is invalid (a header value with a line
 * break, a protocol other than http and https): retrying it cannot help
 * @example
 * ```ts
 * const status = await sendRequest(new URL("https://example.com/hook"), { method: "POST", headers: {}, body },
 *   async (res) => (await readBody(res), res.statusCode));
 * ```
 */
export function sendRequest<T>(
  url: URL,
  options: RequestOptions,
  read: (res: IncomingMessage) => Promise<T>,
): Promise<T> {
  const { body, idleSeconds } = options;
  const headers = Object.fromEntries(
    Object.entries(options.headers).filter(([name]) => name.toLowerCase() !== "content-length"),
  );
  if (body !== undefined) headers["content-length"] = String(body.length);
  const sent = (url.protocol === "https:" ? nodeHttps() : nodeHttp()).request(url, {
    method: options.method,
    headers,
    agent: options.agent ?? false,
    ...(idleSeconds === undefined ? {} : { timeout: idleSeconds * 1000 }),
    ...(options.signal === undefined ? {} : { signal: options.signal }),
  });
  return new Promise<T>((resolve, reject) => {
    let response: IncomingMessage | undefined;
    if (idleSeconds !== undefined) {
      sent.on("timeout", () => {
        const error = new DOMException(`no answer within ${idleSeconds} s`, "TimeoutError");
        response?.destroy(error); // `read` fails with the timeout
        sent.destroy(error);
      });
    }
    sent.on("error", (error) => {
      if (response === undefined) reject(error);
    });
    sent.on("response", (res) => {
      response = res;
      read(res).then(resolve, reject);
    });
    sent.end(body);
  });
}

/**
 * Reads an answer's body, keeping at most `limit` bytes of it (the rest is read and dropped, so that the
 * connection can be reused).
 */
export async function readBody(res: IncomingMessage, limit = Number.POSITIVE_INFINITY): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let kept = 0;
  for await (const chunk of res) {
    if (kept >= limit) continue;
    const piece = (chunk as Buffer).subarray(0, limit - kept);
    chunks.push(piece);
    kept += piece.length;
  }
  return Buffer.concat(chunks);
}

/** True for the error of a request's idle timeout (see {@link RequestOptions.idleSeconds}). */
export function isTimeout(error: unknown): boolean {
  return error instanceof DOMException && error.name === "TimeoutError";
}

/** The first value of an answer's header. */
export function header(res: IncomingMessage, name: string): string | undefined {
  const value = res.headers[name];
  return Array.isArray(value) ? value[0] : value;
}
