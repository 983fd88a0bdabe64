/** What replaces a secret in logs and messages. */
export const REDACTED = "[REDACTED]";

/** Header names whose values are credentials: their values are never logged. */
export const SENSITIVE_HEADER = /auth|token|secret|key|signature|password|passwd|cookie|session|credential/i;

/**
 * The parts of a URL that may carry credentials: the whole URL, its path and query (a Slack or incident
 * tool's webhook token lives there), and any user info.
 */
export function urlSecrets(url: string): string[] {
  const secrets = [url];
  try {
    const parsed = new URL(url);
    secrets.push(parsed.href);
    const rest = `${parsed.pathname}${parsed.search}`;
    if (rest.length > 1) secrets.push(rest, `${parsed.host}${rest}`);
    if (parsed.pathname.length > 1) secrets.push(parsed.pathname);
    if (parsed.search.length > 1) secrets.push(parsed.search.slice(1));
    if (parsed.username) secrets.push(parsed.username);
    if (parsed.password) secrets.push(parsed.password);
  } catch {
    // Not a URL (the schema refuses those): the whole string is the secret.
  }
  return secrets;
}

/**
 * A URL as logs may show it: scheme, host and port, with `/…` for any path or query (which may hold a
 * token) and without user info. E.g. `https://hooks.slack.com/…`.
 */
export function urlLabel(url: string): string {
  try {
    const parsed = new URL(url);
    const hidden = parsed.pathname.length > 1 || parsed.search.length > 0 || parsed.hash.length > 0;
    return `${parsed.protocol}//${parsed.host}${hidden ? "/…" : ""}`;
  } catch {
    return "(invalid URL)";
  }
}

/**
 * Replaces every occurrence of every secret (also URL-encoded) in a text by {@link REDACTED}.
 *
 * @example
 * ```ts
 * redact("POST https://x.test/hook/abc failed", urlSecrets("https://x.test/hook/abc")); // "POST [REDACTED] failed"
 * ```
 */
export function redact(text: string, secrets: readonly string[]): string {
  const variants = new Set<string>();
  for (const secret of secrets) {
    if (secret.length === 0) continue;
    variants.add(secret);
    variants.add(encodeURIComponent(secret));
    variants.add(JSON.stringify(secret).slice(1, -1));
  }
  // Longest first, so a URL is replaced whole before its path is.
  let result = text;
  for (const secret of [...variants].sort((a, b) => b.length - a.length)) {
    result = result.split(secret).join(REDACTED);
  }
  return result;
}
