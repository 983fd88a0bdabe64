/**
 * How mlbatch reaches an object store, from the environment the AWS SDK and its tools read: the endpoint
 * (`AWS_ENDPOINT_URL_S3`, `AWS_ENDPOINT_URL`: MinIO, Ceph, R2, GCS's interoperability API, moto), the
 * region, path-style addressing, and mlbatch's timeout and attempts. Credentials are not read here: the
 * SDK's default chain finds them (environment, shared profiles, web identity / IRSA, container and
 * instance roles), and mlbatch never logs them.
 */

const TRUE = new Set(["true", "1", "yes", "on"]);
const FALSE = new Set(["false", "0", "no", "off"]);

/** The object store client's settings. */
export interface ObjectStoreSettings {
  /** A custom endpoint URL, or undefined for AWS's own. */
  readonly endpoint: string | undefined;
  readonly region: string;
  /** `https://endpoint/bucket/key` instead of `https://bucket.endpoint/key` (what moto and MinIO need). */
  readonly forcePathStyle: boolean;
  /** Seconds to wait for a connection, or for the next bytes of an answer (a stalled read). */
  readonly timeout: number;
  /** Tries of each request, the first included (the SDK's `AWS_MAX_ATTEMPTS`). */
  readonly maxAttempts: number;
}

/**
 * The settings the environment gives: `AWS_ENDPOINT_URL_S3` (else `AWS_ENDPOINT_URL`), `AWS_REGION`
 * (else `AWS_DEFAULT_REGION`, else `us-east-1`), `AWS_S3_FORCE_PATH_STYLE` (default: on with a custom
 * endpoint, off for AWS), `AWS_MAX_ATTEMPTS` (default 5), `MLBATCH_S3_TIMEOUT` (seconds, default 60).
 *
 * @example
 * ```ts
 * objectStoreSettings({ AWS_ENDPOINT_URL: "http://127.0.0.1:9000" }).forcePathStyle; // true
 * ```
 */
export function objectStoreSettings(env: NodeJS.ProcessEnv = process.env): ObjectStoreSettings {
  const endpoint = env.AWS_ENDPOINT_URL_S3 || env.AWS_ENDPOINT_URL || undefined;
  const pathStyle = (env.AWS_S3_FORCE_PATH_STYLE ?? "").trim().toLowerCase();
  return {
    endpoint,
    region: env.AWS_REGION || env.AWS_DEFAULT_REGION || "us-east-1",
    forcePathStyle: TRUE.has(pathStyle) ? true : FALSE.has(pathStyle) ? false : endpoint !== undefined,
    timeout: positive(env.MLBATCH_S3_TIMEOUT, 60),
    maxAttempts: Math.max(1, Math.floor(positive(env.AWS_MAX_ATTEMPTS, 5))),
  };
}

function positive(text: string | undefined, fallback: number): number {
  const value = Number(text);
  return text !== undefined && text.trim() !== "" && Number.isFinite(value) && value > 0 ? value : fallback;
}
