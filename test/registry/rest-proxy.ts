/**
 * A small HTTP(S) proxy on 127.0.0.1 in front of the live MLflow server, for the REST registry tests: it
 * records the requests, checks credentials like an auth-enabled server, and injects faults (an HTTP status,
 * a connection reset, a hang, a truncated body) into the requests a rule matches.
 */
import http, { type IncomingMessage, type ServerResponse } from "node:http";
import https from "node:https";
import type { AddressInfo, Socket } from "node:net";

/** What a rule does to a request it matches. */
export type Fault =
  | {
      readonly kind: "status";
      readonly status: number;
      readonly headers?: Record<string, string>;
      readonly body?: string;
    }
  | { readonly kind: "reset" }
  | { readonly kind: "hang" }
  | { readonly kind: "truncate" }
  | { readonly kind: "stall" }
  | { readonly kind: "delay"; readonly ms: number };

export interface Rule {
  /** Matches a request path (with its query). */
  readonly match: RegExp;
  /** Matches the request's `Range` header too (a request without one does not match). */
  readonly range?: RegExp;
  readonly fault: Fault;
  /** How many matching requests it applies to (default: all). */
  times?: number;
}

export interface ProxyOptions {
  /** The `Authorization` header every request needs; others get 401, as from MLflow's basic-auth app. */
  readonly authorization?: string;
  /** Host header sent to the server instead of the proxy's own. */
  readonly host?: string;
  /** Serve HTTPS with this key and certificate (PEM); with `clientCa`, require a client certificate it signs. */
  readonly tls?: { readonly key: string; readonly cert: string; readonly clientCa?: string };
}

/** A request the proxy received. */
export interface Seen {
  readonly path: string;
  readonly authorization: string | undefined;
}

export class FaultProxy {
  readonly seen: Seen[] = [];
  private readonly rules: Rule[] = [];
  private readonly sockets = new Set<Socket>();

  private constructor(
    private readonly server: http.Server,
    private readonly target: URL,
    private readonly options: ProxyOptions,
  ) {}

  /** Starts a proxy to `target` on a free port of 127.0.0.1. */
  static async start(target: string, options: ProxyOptions = {}): Promise<FaultProxy> {
    let proxy: FaultProxy | undefined;
    const handler = (req: IncomingMessage, res: ServerResponse) => proxy?.handle(req, res);
    const { tls } = options;
    const server =
      tls === undefined
        ? http.createServer(handler)
        : https.createServer(
            {
              key: tls.key,
              cert: tls.cert,
              ...(tls.clientCa === undefined
                ? {}
                : { requestCert: true, rejectUnauthorized: true, ca: tls.clientCa }),
            },
            handler,
          );
    proxy = new FaultProxy(server, new URL(target), options);
    server.on("connection", (socket: Socket) => {
      proxy?.sockets.add(socket);
      socket.on("close", () => proxy?.sockets.delete(socket));
    });
    server.on("secureConnection", (socket: Socket) => {
      proxy?.sockets.add(socket);
      socket.on("close", () => proxy?.sockets.delete(socket));
    });
    await new Promise<void>((done) => server.listen(0, "127.0.0.1", done));
    return proxy;
  }

  /** The proxy's URI, e.g. `http://127.0.0.1:40123`. */
  get uri(): string {
    const { port } = this.server.address() as AddressInfo;
    return `${this.options.tls ? "https" : "http"}://127.0.0.1:${port}`;
  }

  /** Adds a fault rule; rules are tried in the order added, the first that matches applies. */
  inject(rule: Rule): this {
    this.rules.push(rule);
    return this;
  }

  /** Forgets the rules and the requests seen. */
  reset(): void {
    this.rules.length = 0;
    this.seen.length = 0;
  }

  /** The paths seen that match a pattern. */
  count(pattern: RegExp): number {
    return this.seen.filter((s) => pattern.test(s.path)).length;
  }

  async close(): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    await new Promise<void>((done) => this.server.close(() => done()));
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    const path = req.url ?? "/";
    this.seen.push({ path, authorization: req.headers.authorization });
    if (
      this.options.authorization !== undefined &&
      req.headers.authorization !== this.options.authorization
    ) {
      res.writeHead(401, { "content-type": "text/plain", "www-authenticate": 'Basic realm="mlflow"' });
      res.end("You are not authenticated. Please see https://www.mlflow.org/docs/latest/auth/index.html");
      return;
    }
    const range = req.headers.range;
    const rule = this.rules.find(
      (r) =>
        r.match.test(path) &&
        (r.range === undefined || (range !== undefined && r.range.test(range))) &&
        (r.times === undefined || r.times > 0),
    );
    if (rule !== undefined && rule.times !== undefined) rule.times--;
    const fault = rule?.fault;
    if (fault?.kind === "status") {
      res.writeHead(fault.status, { "content-type": "text/plain", ...fault.headers });
      res.end(fault.body ?? `injected ${fault.status}`);
      return;
    }
    if (fault?.kind === "reset") {
      req.socket.resetAndDestroy();
      return;
    }
    if (fault?.kind === "hang") return; // never answers; the socket is destroyed on close()
    const cut = fault?.kind === "truncate" || fault?.kind === "stall" ? fault.kind : undefined;
    const forward = () => this.forward(req, res, cut);
    if (fault?.kind === "delay") setTimeout(forward, fault.ms);
    else forward();
  }

  /** Forwards a request; `truncate` sends half the body then closes, `stall` sends half and stops. */
  private forward(req: IncomingMessage, res: ServerResponse, cut: "truncate" | "stall" | undefined): void {
    const headers = { ...req.headers, host: this.options.host ?? this.target.host };
    if (this.options.authorization !== undefined) delete headers.authorization; // checked here, as an auth app would
    const upstream = http.request(
      new URL(req.url ?? "/", this.target),
      { method: req.method, headers },
      (answer) => {
        if (cut === undefined) {
          res.writeHead(answer.statusCode ?? 502, answer.headers);
          answer.pipe(res);
          return;
        }
        const chunks: Buffer[] = [];
        answer.on("data", (chunk: Buffer) => chunks.push(chunk));
        answer.on("end", () => {
          const body = Buffer.concat(chunks);
          res.writeHead(answer.statusCode ?? 502, {
            ...answer.headers,
            "content-length": String(body.length),
          });
          res.write(body.subarray(0, Math.floor(body.length / 2)), () => {
            if (cut === "truncate") req.socket.destroy();
          });
        });
      },
    );
    upstream.on("error", () => res.destroy());
    req.pipe(upstream);
  }
}
