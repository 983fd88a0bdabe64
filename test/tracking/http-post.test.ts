/** HttpClient's POST and PUT against a live `mlflow server`: which failed tries are repeated, and which are not. */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { HttpClient } from "../../src/mlflow/client.js";
import { connectionFromEnv } from "../../src/mlflow/connection.js";
import type { RetryPolicy } from "../../src/mlflow/retry-policy.js";
import { FaultProxy } from "../registry/rest-proxy.js";
import { freePort, unique, useTrackingServer } from "./helpers.js";

const server = useTrackingServer();
const FAST: RetryPolicy = { timeout: 5, maxRetries: 2, backoffFactor: 0.05, backoffJitter: 0.05 };
const SEARCH = "/api/2.0/mlflow/runs/search";
const SEARCH_BODY = { experiment_ids: ["0"], max_results: 1 };

let proxy: FaultProxy;
beforeAll(async () => {
  proxy = await FaultProxy.start(server().uri);
});
afterAll(() => proxy.close());
beforeEach(() => proxy.reset());

function client(uri = proxy.uri): HttpClient {
  return new HttpClient(connectionFromEnv(uri, {}), FAST);
}

async function using<T>(http: HttpClient, work: (http: HttpClient) => Promise<T>): Promise<T> {
  try {
    return await work(http);
  } finally {
    http.close();
  }
}

describe("a POST that is not idempotent", () => {
  it("given its connection reset and no way to check, when sent, then it fails at once, saying it was not repeated", async () => {
    proxy.inject({ match: /\/runs\/search$/, fault: { kind: "reset" }, times: 1 });
    const error = await using(client(), (http) => http.postJson(SEARCH, SEARCH_BODY)).catch(
      (e: unknown) => e,
    );
    expect(error).toMatchObject({
      code: "E_REGISTRY",
      message: expect.stringMatching(
        /^POST .*\/runs\/search failed \(.*\) after the server may have processed it: not repeated/,
      ),
    });
    expect(proxy.count(/\/runs\/search$/)).toBe(1);
  });

  it("given a 504 from a gateway and a check that finds it done, when sent, then the check's answer is the result", async () => {
    proxy.inject({ match: /\/runs\/search$/, fault: { kind: "status", status: 504 }, times: 1 });
    let checks = 0;
    const answer = await using(client(), (http) =>
      http.postJson(SEARCH, SEARCH_BODY, {
        reconcile: async () => {
          checks++;
          return { status: 200, json: { found: true } };
        },
      }),
    );
    expect(answer).toEqual({ status: 200, json: { found: true } });
    expect(checks).toBe(1);
    expect(proxy.count(/\/runs\/search$/)).toBe(1);
  });

  it("given a 429 (the server did not process it), when sent, then it is repeated without any check", async () => {
    proxy.inject({ match: /\/runs\/search$/, fault: { kind: "status", status: 429 }, times: 1 });
    let checks = 0;
    const answer = await using(client(), (http) =>
      http.postJson(SEARCH, SEARCH_BODY, {
        reconcile: async () => {
          checks++;
          return undefined;
        },
      }),
    );
    expect(answer.status).toBe(200);
    expect(checks).toBe(0);
    expect(proxy.count(/\/runs\/search$/)).toBe(2);
  });

  it("given nothing listening, when sent, then it is retried (nothing reached a server) and fails as unreachable", async () => {
    const port = await freePort();
    const error = await using(client(`http://127.0.0.1:${port}`), (http) =>
      http.postJson(SEARCH, SEARCH_BODY),
    ).catch((e: unknown) => e);
    expect(error).toMatchObject({
      code: "E_REGISTRY",
      message: expect.stringMatching(
        /is unreachable: connection refused \(ECONNREFUSED\) \(POST .*, 3 tries in/,
      ),
    });
  });
});

describe("idempotent requests", () => {
  it("given an idempotent POST whose answer is cut, when sent, then it is simply repeated", async () => {
    proxy.inject({ match: /\/runs\/search$/, fault: { kind: "truncate" }, times: 1 });
    const answer = await using(client(), (http) => http.postJson(SEARCH, SEARCH_BODY, { idempotent: true }));
    expect(answer.status).toBe(200);
    expect(proxy.count(/\/runs\/search$/)).toBe(2);
  });

  it("given a PUT reset once, when an artifact is uploaded, then it is repeated and the server holds the content", async () => {
    const path = `/api/2.0/mlflow-artifacts/artifacts/${unique("mlbatch-http-put")}/hello.txt`;
    proxy.inject({ match: /hello\.txt$/, fault: { kind: "reset" }, times: 1 });
    await using(client(), (http) => http.put(path, Buffer.from("hello, MLflow\n"), "text/plain"));
    expect(proxy.count(/hello\.txt$/)).toBe(2);
    expect(await (await fetch(`${server().uri}${path}`)).text()).toBe("hello, MLflow\n");
  });
});
