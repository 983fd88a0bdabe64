/**
 * The AWS SDK's S3 client, loaded once, when an S3 URI is first used (it costs about 0.2 s to load).
 *
 * The SDK warns on every run under Node 20 that its releases after January 2027 will need Node 22; that
 * is advice to this package's maintainers, not to the person running a job, so the warning is turned off
 * unless `AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED` is set.
 */
let sdk: Promise<typeof import("@aws-sdk/client-s3")> | undefined;

/** `@aws-sdk/client-s3`, imported on first use. */
export function s3Sdk(): Promise<typeof import("@aws-sdk/client-s3")> {
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= "true";
  sdk ??= import("@aws-sdk/client-s3");
  return sdk;
}
