import { MlbatchError } from "../../errors.js";
import { API, ErrorAnswer, parseAnswer } from "../../mlflow/api.js";
import type { HttpClient } from "../../mlflow/client.js";
import { newestByStage } from "../lookup.js";
import { type ModelReference, modelUri, type Stage } from "../model-uri.js";
import { fallbackStage, notFound } from "../not-found.js";
import type { LookupOptions } from "../registry.js";
import {
  LatestVersionsAnswer,
  LoggedModelsAnswer,
  ModelVersionAnswer,
  type ModelVersionJson,
  ModelVersionsAnswer,
  RegisteredModelAnswer,
  RegisteredModelsAnswer,
} from "./api.js";

/**
 * How a tracking server's registry answers a reference: an alias, a version, a stage or `latest`
 * (`registered-models/get-latest-versions`), with MLflow's errors turned into messages that list what the
 * model holds (its aliases, the newest version in each stage, its versions).
 */
export class RestLookup {
  /**
   * @param registry - the registry server's client
   * @param tracking - the tracking server's client (runs, logged models)
   * @param server - the registry URI, for messages
   */
  constructor(
    private readonly registry: HttpClient,
    private readonly tracking: HttpClient,
    private readonly server: string,
  ) {}

  /** The version a reference names: by alias, number, stage or `latest`; an alias may fall back to a stage. */
  async find(
    ref: ModelReference,
    options: LookupOptions,
  ): Promise<{ found: ModelVersionJson; stage?: Stage | "latest" | undefined }> {
    // `latest` cannot be an alias: MLflow 3 reads `@latest` as the newest version (MLflow 2 servers refuse it).
    const stage = ref.alias?.toLowerCase() === "latest" ? "latest" : ref.stage;
    if (stage !== undefined) {
      const found = await this.newest(ref.name, stage);
      if (found === undefined) throw await this.notFound({ name: ref.name, stage }, undefined, options);
      return { found, stage };
    }
    const answer =
      ref.alias !== undefined
        ? await this.registry.getJson(
            `${API}/registered-models/alias`,
            { name: ref.name, alias: ref.alias },
            [400, 404],
          )
        : await this.registry.getJson(
            `${API}/model-versions/get`,
            { name: ref.name, version: String(ref.version) },
            [400, 404],
          );
    if (answer.status === 200) {
      return {
        found: parseAnswer(ModelVersionAnswer, answer.json, modelUri(ref), this.server).model_version,
      };
    }
    const fallback = options.stageFallback && ref.alias !== undefined ? fallbackStage(ref.alias) : undefined;
    const found = fallback === undefined ? undefined : await this.newest(ref.name, fallback);
    if (found === undefined) throw await this.notFound(ref, answer.json, options);
    return { found, stage: fallback };
  }

  /** The newest version in a stage, or of all (`latest`), as `get-latest-versions` gives them. */
  private async newest(name: string, stage: Stage | "latest"): Promise<ModelVersionJson | undefined> {
    const answer = await this.registry.postJson(
      `${API}/registered-models/get-latest-versions`,
      { name, stages: stage === "latest" ? [] : [stage] },
      { accept: [400, 404], idempotent: true },
    );
    if (answer.status !== 200) return undefined;
    const versions = parseAnswer(
      LatestVersionsAnswer,
      answer.json,
      "get-latest-versions",
      this.server,
    ).model_versions;
    return (versions ?? []).reduce<ModelVersionJson | undefined>(
      (newest, v) => (newest === undefined || v.version > newest.version ? v : newest),
      undefined,
    );
  }

  /** The artifact URI of the logged model a run logged under a name, if the server has logged models. */
  async runLoggedModel(runId: string, experimentId: string, name: string): Promise<string | undefined> {
    const answer = await this.tracking.postJson(
      `${API}/logged-models/search`,
      { experiment_ids: [experimentId], filter: `name = '${name.replace(/'/g, "\\'")}'`, max_results: 100 },
      { accept: [400, 404, 405, 501], idempotent: true },
    );
    if (answer.status !== 200) return undefined;
    const models =
      parseAnswer(LoggedModelsAnswer, answer.json, "logged-models/search", this.server).models ?? [];
    return models.find((m) => m.info.source_run_id === runId)?.info.artifact_uri;
  }

  /** The not-found error of a reference, listing what exists. */
  private async notFound(ref: ModelReference, json: unknown, options: LookupOptions): Promise<MlbatchError> {
    const model = await this.registry.getJson(`${API}/registered-models/get`, { name: ref.name }, [400, 404]);
    if (model.status !== 200) {
      const search = await this.registry.getJson(`${API}/registered-models/search`, { max_results: "1000" });
      const names = (
        parseAnswer(RegisteredModelsAnswer, search.json, "search", this.server).registered_models ?? []
      )
        .map((m) => m.name)
        .sort();
      return notFound.model(ref, this.server, names);
    }
    if (ref.version !== undefined) return notFound.version(ref, await this.versions(ref.name));
    const registered = parseAnswer(RegisteredModelAnswer, model.json, ref.name, this.server).registered_model;
    const aliases = (registered.aliases ?? [])
      .map((a) => [a.alias, a.version] as const)
      .sort(([a], [b]) => a.localeCompare(b));
    const held = {
      aliases,
      stages: newestByStage(
        (registered.latest_versions ?? []).map((v) => ({
          version: v.version,
          stage: v.current_stage ?? "None",
        })),
      ),
    };
    if (ref.stage !== undefined) return notFound.stage(ref, held);
    if (aliases.some(([alias]) => alias === ref.alias)) {
      // The alias exists, yet the server refused it: say what it said.
      const { message } = ErrorAnswer.parse(json);
      return new MlbatchError("E_REGISTRY", `${modelUri(ref)}: ${message ?? "refused by the server"}`);
    }
    return notFound.alias(ref, held, options.stageFallback);
  }

  /** Every version number of a model, ascending (first 10 pages of 1000). */
  private async versions(name: string): Promise<number[]> {
    const versions: number[] = [];
    let token: string | undefined;
    for (let page = 0; page < 10; page++) {
      const query: Record<string, string> = {
        filter: `name = '${name.replace(/'/g, "\\'")}'`,
        max_results: "1000",
      };
      if (token !== undefined) query.page_token = token;
      const answer = parseAnswer(
        ModelVersionsAnswer,
        (await this.registry.getJson(`${API}/model-versions/search`, query)).json,
        "search",
        this.server,
      );
      versions.push(...(answer.model_versions ?? []).map((v) => v.version));
      token = answer.next_page_token || undefined;
      if (token === undefined) break;
    }
    return versions.sort((a, b) => a - b);
  }
}
