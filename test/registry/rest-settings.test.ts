/** Settings of remote registries (no server needed): retries as MLflow's, credentials, TLS, cache folder. */
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { MlbatchError } from "../../src/errors.js";
import { backoffDelay, parseRetryAfter } from "../../src/http/retry.js";
import { authorizationHeader, connectionFromEnv, withoutCredentials } from "../../src/mlflow/connection.js";
import { MLFLOW_RETRY_POLICY, mlflowRetries } from "../../src/mlflow/retry-policy.js";
import { resolveHttpSettings } from "../../src/mlflow/settings.js";
import { defaultCacheDir } from "../../src/registry/cache.js";
import { openRegistry } from "../../src/registry/index.js";
import { RestStore } from "../../src/registry/rest/rest-store.js";
import { MlflowServiceConfig, resolveCacheSettings } from "../../src/services/mlflow.js";

function thrown(work: () => unknown): MlbatchError {
  try {
    work();
  } catch (error) {
    expect(error).toBeInstanceOf(MlbatchError);
    return error as MlbatchError;
  }
  throw new Error("expected a failure");
}

describe("retry settings", () => {
  it("given no config and no variables, when resolved, then they are MLflow's defaults", () => {
    expect(resolveHttpSettings({}, {})).toEqual({
      timeout: 120,
      maxRetries: 7,
      backoffFactor: 2,
      backoffJitter: 1,
    });
    expect(resolveHttpSettings({}, {})).toEqual(MLFLOW_RETRY_POLICY);
  });

  it("given MLFLOW_HTTP_REQUEST_* variables and a config, when resolved, then the config wins over the variables", () => {
    const env = {
      MLFLOW_HTTP_REQUEST_TIMEOUT: "30",
      MLFLOW_HTTP_REQUEST_MAX_RETRIES: "3",
      MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR: "1",
      MLFLOW_HTTP_REQUEST_BACKOFF_JITTER: "0.5",
    };
    expect(resolveHttpSettings({}, env)).toEqual({
      timeout: 30,
      maxRetries: 3,
      backoffFactor: 1,
      backoffJitter: 0.5,
    });
    expect(resolveHttpSettings({ max_retries: 0, timeout: 5 }, env)).toEqual({
      timeout: 5,
      maxRetries: 0,
      backoffFactor: 1,
      backoffJitter: 0.5,
    });
  });

  it("given an invalid variable, when resolved, then E_CONFIG names it (expected failure)", () => {
    for (const [name, value] of [
      ["MLFLOW_HTTP_REQUEST_TIMEOUT", "soon"],
      ["MLFLOW_HTTP_REQUEST_TIMEOUT", "0"],
      ["MLFLOW_HTTP_REQUEST_MAX_RETRIES", "2.5"],
      ["MLFLOW_HTTP_REQUEST_MAX_RETRIES", "11"],
    ] as const) {
      const error = thrown(() => resolveHttpSettings({}, { [name]: value }));
      expect(error.code).toBe("E_CONFIG");
      expect(error.message).toContain(`${name}="${value}"`);
    }
  });

  it("given the config schema, when parsed empty, then http and cache are there with documented defaults", () => {
    const parsed = MlflowServiceConfig.parse({});
    expect(parsed.http).toEqual({});
    expect(parsed.cache).toEqual({ enable: true });
    expect(MlflowServiceConfig.shape.http.description).toContain("Timeout and retries");
    expect(() => MlflowServiceConfig.parse({ http: { max_retries: 11 } })).toThrow();
    expect(() => MlflowServiceConfig.parse({ cache: { enabled: false } })).toThrow();
  });

  it("given retries, when backing off, then the waits are urllib3's: none, then factor * 2^(n-1) plus jitter, at most 120 s", () => {
    const policy = { ...MLFLOW_RETRY_POLICY, backoffJitter: 1 };
    const { backoff } = mlflowRetries(policy);
    expect([1, 2, 3, 4, 5, 6, 7].map((n) => backoffDelay(backoff, n, () => 0.5))).toEqual([
      0, 4.5, 8.5, 16.5, 32.5, 64.5, 120,
    ]);
  });

  it("given a Retry-After in seconds or as a date, when parsed, then it gives seconds, capped at 120", () => {
    const now = Date.parse("2026-01-01T00:00:00Z");
    expect(parseRetryAfter("3", now)).toBe(3);
    expect(parseRetryAfter("Thu, 01 Jan 2026 00:00:10 GMT", now)).toBe(10);
    expect(parseRetryAfter("86400", now)).toBe(120);
    expect(parseRetryAfter(undefined, now)).toBeUndefined();
    expect(parseRetryAfter("soon", now)).toBeUndefined();
  });
});

describe("connections", () => {
  it("given username, password and token, when connecting, then Basic auth wins, as in MLflow", () => {
    const env = { MLFLOW_TRACKING_USERNAME: "u", MLFLOW_TRACKING_PASSWORD: "p", MLFLOW_TRACKING_TOKEN: "t" };
    const connection = connectionFromEnv("https://mlflow.example.com/", env);
    expect(connection.baseUri).toBe("https://mlflow.example.com");
    expect(authorizationHeader(connection.credentials)).toBe(
      `Basic ${Buffer.from("u:p").toString("base64")}`,
    );
    expect(
      authorizationHeader(connectionFromEnv("http://h", { MLFLOW_TRACKING_TOKEN: "t" }).credentials),
    ).toBe("Bearer t");
    expect(authorizationHeader(connectionFromEnv("http://h", {}).credentials)).toBeUndefined();
  });

  it("given credentials in the URI, when connecting, then they are Basic auth and removed from the URI and texts", () => {
    const connection = connectionFromEnv("https://bob:p%40ss@mlflow.example.com:8443/prefix", {});
    expect(connection.baseUri).toBe("https://mlflow.example.com:8443/prefix");
    expect(connection.credentials).toMatchObject({ kind: "basic", username: "bob", password: "p@ss" });
    expect(connection.redact("failed with p@ss and p%40ss")).toBe("failed with *** and ***");
    expect(withoutCredentials("https://bob:p%40ss@mlflow.example.com/x")).toBe(
      "https://mlflow.example.com/x",
    );
  });

  it("given TLS variables, when connecting, then the CA bundle is read, and contradicting settings are refused", () => {
    const missing = thrown(() =>
      connectionFromEnv("https://h", { MLFLOW_TRACKING_SERVER_CERT_PATH: "/no/such/ca.pem" }),
    );
    expect(missing.code).toBe("E_CONFIG");
    expect(missing.message).toContain(
      "MLFLOW_TRACKING_SERVER_CERT_PATH=/no/such/ca.pem: cannot read the certificate file",
    );
    expect(connectionFromEnv("https://h", { MLFLOW_TRACKING_INSECURE_TLS: "TRUE" }).tls.insecure).toBe(true);
    expect(connectionFromEnv("https://h", { MLFLOW_TRACKING_INSECURE_TLS: "false" }).tls.insecure).toBe(
      false,
    );
  });

  it("given an http(s) registry URI, when opened, then a REST store is ready without any request", () => {
    const registry = openRegistry("http://user:secret@127.0.0.1:9", { cache: { enable: false, dir: "x" } });
    try {
      expect(registry).toBeInstanceOf(RestStore);
      expect(registry.uri).toBe("http://127.0.0.1:9");
    } finally {
      registry.close();
    }
  });
});

describe("cache folder", () => {
  it("given XDG_CACHE_HOME or not, when resolved, then it is under the user's cache folder, unless configured", () => {
    expect(defaultCacheDir({ XDG_CACHE_HOME: "/xdg" })).toBe(join("/xdg", "mlbatch", "models"));
    expect(defaultCacheDir({ HOME: "/home/ada" })).toBe(join("/home/ada", ".cache", "mlbatch", "models"));
    expect(resolveCacheSettings(MlflowServiceConfig.parse({}).cache, { HOME: "/home/ada" })).toEqual({
      enable: true,
      dir: join("/home/ada", ".cache", "mlbatch", "models"),
    });
    expect(resolveCacheSettings({ enable: false, dir: "/c" }, {})).toEqual({ enable: false, dir: "/c" });
  });
});
