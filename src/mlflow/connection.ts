import { readFileSync } from "node:fs";
import { MlbatchError, messageOf } from "../errors.js";

/** How requests authenticate, as MLflow's Python client does it. */
export type Credentials =
  | { readonly kind: "basic"; readonly source: string; readonly username: string; readonly password: string }
  | { readonly kind: "bearer"; readonly source: string; readonly token: string }
  | { readonly kind: "none" };

/** TLS options for an `https://` tracking server. */
export interface TlsOptions {
  /** `MLFLOW_TRACKING_INSECURE_TLS=true`: do not verify the server's certificate. */
  readonly insecure: boolean;
  /** `MLFLOW_TRACKING_SERVER_CERT_PATH`: the CA bundle (PEM) that signs the server's certificate. */
  readonly ca?: { readonly path: string; readonly pem: string } | undefined;
  /** `MLFLOW_TRACKING_CLIENT_CERT_PATH`: a PEM file with the client certificate and its key. */
  readonly clientCert?: { readonly path: string; readonly pem: string } | undefined;
}

/** Where a tracking server is and how to talk to it: its URI (without credentials), auth and TLS. */
export interface Connection {
  /** The base URI, credentials removed: `https://mlflow.example.com/prefix`. */
  readonly baseUri: string;
  readonly credentials: Credentials;
  readonly tls: TlsOptions;
  /** Replaces every secret (password, token) in a text with `***`, for messages and logs. */
  redact(text: string): string;
}

const TRUE = new Set(["true", "1", "yes", "on"]);

/**
 * The connection to a tracking server as MLflow's Python client builds it: `MLFLOW_TRACKING_USERNAME` and
 * `MLFLOW_TRACKING_PASSWORD` give Basic auth, else `MLFLOW_TRACKING_TOKEN` a Bearer token, else the URI's
 * own `user:password@`; `MLFLOW_TRACKING_INSECURE_TLS`, `MLFLOW_TRACKING_SERVER_CERT_PATH` and
 * `MLFLOW_TRACKING_CLIENT_CERT_PATH` set TLS.
 *
 * @param uri - the tracking or registry URI (`http(s)://`), possibly with `user:password@`
 * @param env - the environment to read (default: this process's)
 * @throws MlbatchError `E_CONFIG` when the URI is not a URL, a certificate file cannot be read or the TLS
 * options contradict
 */
export function connectionFromEnv(uri: string, env: NodeJS.ProcessEnv = process.env): Connection {
  const url = parseUrl(uri);
  const fromUri =
    url.username !== ""
      ? { username: decodeURIComponent(url.username), password: decodeURIComponent(url.password) }
      : undefined;
  url.username = "";
  url.password = "";
  const baseUri = url.toString().replace(/\/+$/, "");

  let credentials: Credentials = { kind: "none" };
  if (env.MLFLOW_TRACKING_USERNAME && env.MLFLOW_TRACKING_PASSWORD) {
    credentials = {
      kind: "basic",
      source: "MLFLOW_TRACKING_USERNAME and MLFLOW_TRACKING_PASSWORD",
      username: env.MLFLOW_TRACKING_USERNAME,
      password: env.MLFLOW_TRACKING_PASSWORD,
    };
  } else if (env.MLFLOW_TRACKING_TOKEN) {
    credentials = { kind: "bearer", source: "MLFLOW_TRACKING_TOKEN", token: env.MLFLOW_TRACKING_TOKEN };
  } else if (fromUri !== undefined) {
    credentials = { kind: "basic", source: "the user:password of the tracking URI", ...fromUri };
  }

  const insecure = TRUE.has((env.MLFLOW_TRACKING_INSECURE_TLS ?? "").toLowerCase());
  const ca = pemFile("MLFLOW_TRACKING_SERVER_CERT_PATH", env.MLFLOW_TRACKING_SERVER_CERT_PATH);
  if (insecure && ca !== undefined) {
    throw new MlbatchError(
      "E_CONFIG",
      "MLFLOW_TRACKING_INSECURE_TLS and MLFLOW_TRACKING_SERVER_CERT_PATH are both set: they contradict each other " +
        "(as MLflow says too). Unset one of them.",
    );
  }
  const clientCert = pemFile("MLFLOW_TRACKING_CLIENT_CERT_PATH", env.MLFLOW_TRACKING_CLIENT_CERT_PATH);

  const secrets = secretsOf(credentials, fromUri?.password);
  return {
    baseUri,
    credentials,
    tls: { insecure, ca, clientCert },
    redact: (text) => secrets.reduce((out, secret) => out.split(secret).join("***"), text),
  };
}

/** The `Authorization` header of some credentials, if any. */
export function authorizationHeader(credentials: Credentials): string | undefined {
  if (credentials.kind === "basic") {
    return `Basic ${Buffer.from(`${credentials.username}:${credentials.password}`).toString("base64")}`;
  }
  return credentials.kind === "bearer" ? `Bearer ${credentials.token}` : undefined;
}

/** A URI with any `user:password@` removed, for messages, logs and cache keys. */
export function withoutCredentials(uri: string): string {
  return uri.replace(/^([a-z][a-z0-9+.-]*:\/\/)[^/@]*@/i, "$1");
}

function parseUrl(uri: string): URL {
  try {
    return new URL(uri);
  } catch (error) {
    throw new MlbatchError(
      "E_CONFIG",
      `invalid tracking server URI "${withoutCredentials(uri)}": expected http(s)://host[:port]`,
      { cause: error },
    );
  }
}

function pemFile(variable: string, path: string | undefined): { path: string; pem: string } | undefined {
  if (path === undefined || path === "") return undefined;
  try {
    return { path, pem: readFileSync(path, "utf8") };
  } catch (error) {
    throw new MlbatchError(
      "E_CONFIG",
      `${variable}=${path}: cannot read the certificate file (${messageOf(error)}). Point it to a PEM file.`,
      { cause: error },
    );
  }
}

/** Every form a secret could take in a text: as is, URI-encoded, and inside the Authorization header. */
function secretsOf(credentials: Credentials, uriPassword: string | undefined): string[] {
  const secrets: string[] = [];
  if (credentials.kind === "basic") {
    secrets.push(
      credentials.password,
      Buffer.from(`${credentials.username}:${credentials.password}`).toString("base64"),
    );
  }
  if (credentials.kind === "bearer") secrets.push(credentials.token);
  if (uriPassword) secrets.push(uriPassword);
  // Longest first, so that a secret containing another is replaced whole.
  return [...new Set(secrets.flatMap((s) => [s, encodeURIComponent(s)]))]
    .filter((s) => s.length > 0)
    .sort((a, b) => b.length - a.length);
}
