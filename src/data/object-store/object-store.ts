/**
 * The S3 client of the data layer: list, head, download to a file, upload a file (multipart above
 * {@link MULTIPART_BYTES}, completed only at the end and aborted on failure, so an object appears whole
 * or not at all), conditional puts (`If-None-Match: *`: the first writer wins) and deletes. Requests are
 * retried by the SDK (503 storms, reset connections, timeouts: {@link ObjectStoreSettings}); a body cut
 * short or stalled is downloaded again.
 */
import { createHash } from "node:crypto";
import { createWriteStream } from "node:fs";
import { open, rm, stat } from "node:fs/promises";
import { type Readable, Writable } from "node:stream";
import { pipeline } from "node:stream/promises";
import type { S3Client } from "@aws-sdk/client-s3";
import { MlbatchError, messageOf } from "../../errors.js";
import { retrying } from "../../http/retry.js";
import { isNotFound, isPreconditionFailed, type ObjectAccess, objectStoreError } from "./failures.js";
import { s3Sdk } from "./sdk.js";
import { type ObjectStoreSettings, objectStoreSettings } from "./settings.js";
import { type ObjectLocation, objectUri, parseObjectUri } from "./uri.js";

/** Files above this size are uploaded in parts of this size (S3 allows 10,000 parts: 160 GiB). */
export const MULTIPART_BYTES = 16 * 2 ** 20;

/** An object as listed or headed. */
export interface ObjectInfo {
  readonly uri: string;
  readonly key: string;
  readonly size: number;
  /** The entity tag, without quotes. */
  readonly etag: string;
}

/** An object's metadata (`x-amz-meta-*`), with its size and tag. */
export interface HeadedObject extends ObjectInfo {
  readonly metadata: Readonly<Record<string, string>>;
}

/** How an upload is made. */
export interface PutOptions {
  /** Create only: refused (`"exists"`) when an object is there (`If-None-Match: *`). */
  readonly ifNoneMatch?: boolean | undefined;
  /** Replace only this version (`If-Match: <etag>`): refused (`"exists"`) when another is there. */
  readonly ifMatch?: string | undefined;
  /** User metadata (`x-amz-meta-<name>`: ASCII names and values). */
  readonly metadata?: Readonly<Record<string, string>> | undefined;
}

/**
 * A client of one S3 API endpoint, configured from the environment (see {@link objectStoreSettings});
 * credentials come from the SDK's default chain.
 *
 * @example
 * ```ts
 * const store = ObjectStore.fromEnvironment();
 * const bytes = (await store.list("s3://data/in/")).reduce((sum, object) => sum + object.size, 0);
 * ```
 */
export class ObjectStore {
  private client: Promise<S3Client> | undefined;

  /** @param settings - endpoint, region, addressing, timeout and attempts */
  constructor(readonly settings: ObjectStoreSettings) {}

  /** The client for this process's environment, shared by every caller that sees the same settings. */
  static fromEnvironment(env: NodeJS.ProcessEnv = process.env): ObjectStore {
    const settings = objectStoreSettings(env);
    // Keyed on what configures the client (credentials are found by the SDK, read once per client).
    const key = JSON.stringify([settings, env.AWS_ACCESS_KEY_ID ?? "", env.AWS_PROFILE ?? ""]);
    let store = STORES.get(key);
    if (store === undefined) {
      store = new ObjectStore(settings);
      STORES.set(key, store);
    }
    return store;
  }

  /**
   * The objects whose keys start with the prefix of `uri` (`s3://bucket/prefix`), in key order.
   *
   * @throws MlbatchError `E_AUTH`, `E_READ`
   */
  async list(uri: string): Promise<ObjectInfo[]> {
    const { bucket, key: prefix } = parseObjectUri(uri);
    const { ListObjectsV2Command } = await s3Sdk();
    const objects: ObjectInfo[] = [];
    let token: string | undefined;
    do {
      const page = await this.call(uri, "read", (s3) =>
        s3.send(
          new ListObjectsV2Command({
            Bucket: bucket,
            Prefix: prefix,
            ContinuationToken: token,
          }),
        ),
      );
      for (const object of page.Contents ?? []) {
        if (object.Key === undefined || object.Key.endsWith("/")) continue;
        objects.push(info({ bucket, key: object.Key }, object.Size, object.ETag));
      }
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token !== undefined);
    return objects.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  }

  /**
   * The object at `uri`, or undefined when there is none.
   *
   * @throws MlbatchError `E_AUTH`, `E_READ`
   */
  async head(uri: string, access: ObjectAccess = "read"): Promise<HeadedObject | undefined> {
    const location = parseObjectUri(uri);
    const { HeadObjectCommand } = await s3Sdk();
    try {
      const answer = await (await this.s3()).send(
        new HeadObjectCommand({ Bucket: location.bucket, Key: location.key }),
      );
      return { ...info(location, answer.ContentLength, answer.ETag), metadata: answer.Metadata ?? {} };
    } catch (error) {
      if (isNotFound(error) && (error as { name?: string }).name !== "NoSuchBucket") return undefined;
      throw objectStoreError(uri, access, error, this.settings);
    }
  }

  /**
   * Downloads the object to `target` (streamed: memory stays flat), again when the body comes short or
   * stalls. With `etag`, only that version of the object is accepted (`If-Match`).
   *
   * @returns the bytes written
   * @throws MlbatchError `E_AUTH`, `E_READ` (a changed object, once every try failed); `target` is removed
   */
  async download(uri: string, target: string, etag?: string): Promise<number> {
    try {
      return await this.streamedInto(uri, target, { etag });
    } catch (error) {
      await rm(target, { force: true });
      throw error;
    }
  }

  /**
   * Writes bytes `[start, end)` of the object, of the version `etag` only (`If-Match`), into `target` at
   * the same offset (streamed: memory stays flat), again when the body comes short or stalls: a row group
   * of a Parquet file, without the rest.
   *
   * @throws MlbatchError `E_AUTH`, `E_READ` (also when the object changed, once every try failed)
   */
  async readRangeInto(uri: string, start: number, end: number, etag: string, target: string): Promise<void> {
    if (end > start) await this.streamedInto(uri, target, { etag, start, end });
  }

  /**
   * Bytes `[start, end)` of the object, of the version `etag` only (`If-Match`), in memory, again when
   * the body comes short or stalls: a window of a text object read in order, without the rest.
   *
   * @throws MlbatchError `E_AUTH`, `E_READ` (also when the object changed, once every try failed)
   */
  async readRangeRetried(uri: string, start: number, end: number, etag: string): Promise<Buffer> {
    if (end <= start) return Buffer.alloc(0);
    let chunks: Buffer[] = [];
    await this.streamed(
      uri,
      { etag, start, end },
      (body) => {
        chunks = [];
        const collect = new Writable({
          write(chunk: Buffer, _encoding, done) {
            chunks.push(chunk);
            done();
          },
        });
        return pipeline(body, collect);
      },
      "into memory",
    );
    return Buffer.concat(chunks);
  }

  /** A GET (of a range, with `start`) streamed into `target` (at `start`), tried again when cut short. */
  private streamedInto(
    uri: string,
    target: string,
    range: { etag?: string | undefined; start?: number; end?: number },
  ): Promise<number> {
    const { start } = range;
    return this.streamed(
      uri,
      range,
      (body) =>
        pipeline(
          body,
          start === undefined ? createWriteStream(target) : createWriteStream(target, { flags: "r+", start }),
        ),
      `into "${target}"`,
    );
  }

  /**
   * A GET (of a range, with `start`) whose body `sink` takes (a fresh sink on every try), tried again
   * when the body is cut short or stalls. A failure of the sink itself (a file error: one with a `path`)
   * is not tried again.
   */
  private async streamed(
    uri: string,
    range: { etag?: string | undefined; start?: number; end?: number },
    sink: (body: Readable) => Promise<void>,
    where: string,
  ): Promise<number> {
    const location = parseObjectUri(uri);
    const { GetObjectCommand } = await s3Sdk();
    const retries = { maxRetries: this.settings.maxAttempts - 1, backoff: BODY_BACKOFF };
    const { etag, start, end } = range;
    const what = start === undefined ? `"${uri}"` : `bytes ${start}-${end! - 1} of "${uri}"`;
    try {
      return await retrying(
        retries,
        async () => {
          const answer = await this.call(uri, "read", (s3) =>
            s3.send(
              new GetObjectCommand({
                Bucket: location.bucket,
                Key: location.key,
                ...(etag === undefined ? {} : { IfMatch: `"${etag}"` }),
                ...(start === undefined ? {} : { Range: `bytes=${start}-${end! - 1}` }),
              }),
            ),
          );
          const size = answer.ContentLength;
          let received = 0;
          const body = answer.Body as Readable;
          body.on("data", (chunk: Buffer) => {
            received += chunk.length;
          });
          try {
            await sink(body);
          } catch (error) {
            if (typeof (error as { path?: unknown }).path === "string") throw error;
            return { transient: { reason: `the download broke off: ${messageOf(error)}`, cause: error } };
          }
          const expected = start === undefined ? size : end! - start;
          if (
            (size !== undefined && received !== size) ||
            (expected !== undefined && received !== expected)
          ) {
            return {
              transient: {
                reason: `the download came short: ${received} of ${expected ?? size} bytes`,
                cause: undefined,
              },
            };
          }
          return { ok: received };
        },
        {
          exhausted: (last, tries) =>
            new MlbatchError("E_READ", `cannot read ${what}: ${last.reason} (${tries} tries). Run again.`, {
              cause: last.cause,
            }),
        },
      );
    } catch (error) {
      if (error instanceof MlbatchError) throw error;
      throw new MlbatchError("E_READ", `cannot read ${what} ${where}: ${messageOf(error)}`, {
        cause: error,
      });
    }
  }

  /**
   * Bytes `[start, end)` of the object, of the version `etag` only (`If-Match`): the footer or a row
   * group of a Parquet file, without the rest.
   *
   * @throws MlbatchError `E_AUTH`, `E_READ` (also when the object changed, or came short)
   */
  async readRange(uri: string, start: number, end: number, etag: string): Promise<Buffer> {
    const location = parseObjectUri(uri);
    const { GetObjectCommand } = await s3Sdk();
    const answer = await this.call(uri, "read", (s3) =>
      s3.send(
        new GetObjectCommand({
          Bucket: location.bucket,
          Key: location.key,
          Range: `bytes=${start}-${end - 1}`,
          IfMatch: `"${etag}"`,
        }),
      ),
    );
    const bytes = Buffer.from((await answer.Body?.transformToByteArray()) ?? []);
    if (bytes.length !== end - start) {
      throw new MlbatchError(
        "E_READ",
        `cannot read "${uri}": bytes ${start}-${end - 1} came ${bytes.length} bytes long. Run again.`,
      );
    }
    return bytes;
  }

  /**
   * The object's text and tag, or undefined when there is none.
   *
   * @throws MlbatchError `E_AUTH`, `E_READ`
   */
  async getText(
    uri: string,
    access: ObjectAccess = "read",
  ): Promise<{ text: string; etag: string } | undefined> {
    const location = parseObjectUri(uri);
    const { GetObjectCommand } = await s3Sdk();
    try {
      const answer = await (await this.s3()).send(
        new GetObjectCommand({ Bucket: location.bucket, Key: location.key }),
      );
      const text = (await answer.Body?.transformToString("utf8")) ?? "";
      return { text, etag: unquote(answer.ETag) };
    } catch (error) {
      if (isNotFound(error) && (error as { name?: string }).name !== "NoSuchBucket") return undefined;
      throw objectStoreError(uri, access, error, this.settings);
    }
  }

  /**
   * Uploads a local file as the object at `uri`: one request up to {@link MULTIPART_BYTES}, else a
   * multipart upload completed only once every part is in (aborted on any failure): readers see the old
   * object or the whole new one, never part of it.
   *
   * @returns `"created"`, or `"exists"` when the condition failed (`ifNoneMatch`: an object was there;
   *   `ifMatch`, one request only: another version, or none, was there); the store is then unchanged
   * @throws MlbatchError `E_AUTH`, `E_WRITE`; nothing is then left on the store
   */
  async putFile(uri: string, file: string, options: PutOptions = {}): Promise<"created" | "exists"> {
    const { size } = await stat(file);
    if (size <= MULTIPART_BYTES) {
      const handle = await open(file, "r");
      try {
        return await this.putBody(uri, await handle.readFile(), options);
      } finally {
        await handle.close();
      }
    }
    return this.putMultipart(uri, file, size, options);
  }

  /**
   * Uploads `text` as the object at `uri` (see {@link ObjectStore.putFile}).
   *
   * @throws MlbatchError `E_AUTH`, `E_WRITE`
   */
  putText(uri: string, text: string, options: PutOptions = {}): Promise<"created" | "exists"> {
    return this.putBody(uri, Buffer.from(text, "utf8"), options);
  }

  /**
   * Deletes the objects (missing ones are no error).
   *
   * @throws MlbatchError `E_AUTH`, `E_WRITE`
   */
  async delete(uris: readonly string[]): Promise<void> {
    const { DeleteObjectsCommand } = await s3Sdk();
    const byBucket = new Map<string, string[]>();
    for (const uri of uris) {
      const { bucket, key } = parseObjectUri(uri);
      byBucket.set(bucket, [...(byBucket.get(bucket) ?? []), key]);
    }
    for (const [bucket, keys] of byBucket) {
      for (let at = 0; at < keys.length; at += 1000) {
        const batch = keys.slice(at, at + 1000);
        const answer = await this.call(`s3://${bucket}/${batch[0]}`, "write", (s3) =>
          s3.send(
            new DeleteObjectsCommand({
              Bucket: bucket,
              Delete: { Objects: batch.map((Key) => ({ Key })), Quiet: true },
            }),
          ),
        );
        const failed = answer.Errors?.[0];
        if (failed !== undefined) {
          throw new MlbatchError(
            "E_WRITE",
            `cannot delete "s3://${bucket}/${failed.Key}": ${failed.Code}: ${failed.Message}`,
          );
        }
      }
    }
  }

  /** Closes the SDK's connections. */
  async close(): Promise<void> {
    const client = this.client;
    this.client = undefined;
    (await client)?.destroy();
  }

  private async putBody(uri: string, body: Buffer, options: PutOptions): Promise<"created" | "exists"> {
    const { bucket, key } = parseObjectUri(uri);
    const { PutObjectCommand } = await s3Sdk();
    try {
      await (await this.s3()).send(
        new PutObjectCommand({
          Bucket: bucket,
          Key: key,
          Body: body,
          ContentLength: body.length,
          ContentMD5: createHash("md5").update(body).digest("base64"),
          ...(options.ifNoneMatch ? { IfNoneMatch: "*" } : {}),
          ...(options.ifMatch === undefined ? {} : { IfMatch: `"${options.ifMatch}"` }),
          ...(options.metadata === undefined ? {} : { Metadata: { ...options.metadata } }),
        }),
      );
      return "created";
    } catch (error) {
      const conditional = options.ifNoneMatch || options.ifMatch !== undefined;
      if (conditional && (isPreconditionFailed(error) || isNotFound(error))) return "exists";
      throw objectStoreError(uri, "write", error, this.settings);
    }
  }

  private async putMultipart(
    uri: string,
    file: string,
    size: number,
    options: PutOptions,
  ): Promise<"created" | "exists"> {
    const { bucket, key } = parseObjectUri(uri);
    const { CreateMultipartUploadCommand, UploadPartCommand, CompleteMultipartUploadCommand } = await s3Sdk();
    // Refused early, without uploading, when the object is already there; the completion checks again.
    if (options.ifNoneMatch && (await this.head(uri, "write")) !== undefined) return "exists";
    const created = await this.call(uri, "write", (s3) =>
      s3.send(
        new CreateMultipartUploadCommand({
          Bucket: bucket,
          Key: key,
          ...(options.metadata === undefined ? {} : { Metadata: { ...options.metadata } }),
        }),
      ),
    );
    const uploadId = created.UploadId!;
    const handle = await open(file, "r");
    try {
      const parts: { PartNumber: number; ETag: string }[] = [];
      const buffer = Buffer.alloc(MULTIPART_BYTES);
      for (let at = 0, number = 1; at < size; at += MULTIPART_BYTES, number++) {
        const { bytesRead } = await handle.read(buffer, 0, Math.min(MULTIPART_BYTES, size - at), at);
        const body = buffer.subarray(0, bytesRead);
        const part = await this.call(uri, "write", (s3) =>
          s3.send(
            new UploadPartCommand({
              Bucket: bucket,
              Key: key,
              UploadId: uploadId,
              PartNumber: number,
              Body: body,
              ContentLength: bytesRead,
              ContentMD5: createHash("md5").update(body).digest("base64"),
            }),
          ),
        );
        parts.push({ PartNumber: number, ETag: part.ETag ?? "" });
      }
      try {
        await (await this.s3()).send(
          new CompleteMultipartUploadCommand({
            Bucket: bucket,
            Key: key,
            UploadId: uploadId,
            MultipartUpload: { Parts: parts },
            ...(options.ifNoneMatch ? { IfNoneMatch: "*" } : {}),
          }),
        );
      } catch (error) {
        if (options.ifNoneMatch && isPreconditionFailed(error)) {
          await this.abort(bucket, key, uploadId);
          return "exists";
        }
        throw objectStoreError(uri, "write", error, this.settings);
      }
      return "created";
    } catch (error) {
      await this.abort(bucket, key, uploadId);
      throw error;
    } finally {
      await handle.close();
    }
  }

  /** Aborts a multipart upload: its parts are deleted, nothing appears at the key. */
  private async abort(bucket: string, key: string, uploadId: string): Promise<void> {
    const { AbortMultipartUploadCommand } = await s3Sdk();
    await (await this.s3())
      .send(new AbortMultipartUploadCommand({ Bucket: bucket, Key: key, UploadId: uploadId }))
      .catch(() => undefined);
  }

  /** Runs a request, its failures turned into errors naming `uri`. */
  private async call<T>(
    uri: string,
    access: ObjectAccess,
    request: (s3: S3Client) => Promise<T>,
  ): Promise<T> {
    try {
      return await request(await this.s3());
    } catch (error) {
      throw objectStoreError(uri, access, error, this.settings);
    }
  }

  private s3(): Promise<S3Client> {
    // Loaded on first use: the SDK takes a good part of a cold start, and most runs never use it.
    this.client ??= s3Sdk().then(({ S3Client }) => {
      const { endpoint, region, forcePathStyle, timeout, maxAttempts } = this.settings;
      return new S3Client({
        ...(endpoint === undefined ? {} : { endpoint }),
        region,
        forcePathStyle,
        followRegionRedirects: true,
        maxAttempts,
        // Stores other than AWS (MinIO, R2, moto, GCS) do not all know the SDK's newer checksums.
        requestChecksumCalculation: "WHEN_REQUIRED",
        responseChecksumValidation: "WHEN_REQUIRED",
        requestHandler: { connectionTimeout: timeout * 1000, socketTimeout: timeout * 1000 },
      });
    });
    return this.client;
  }
}

const STORES = new Map<string, ObjectStore>();

/** Waits between downloads of a body that broke off: 0.5 s, 1 s, 2 s, ... at most 10 s, half random. */
const BODY_BACKOFF = { factor: 0.5, max: 10, spread: 0.5, jitter: 0, immediateFirst: false };

function info(location: ObjectLocation, size: number | undefined, etag: string | undefined): ObjectInfo {
  return { uri: objectUri(location), key: location.key, size: size ?? 0, etag: unquote(etag) };
}

function unquote(etag: string | undefined): string {
  return (etag ?? "").replace(/^"|"$/g, "");
}
