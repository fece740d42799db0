// Secrets (tokens, passwords) must never reach a log line or an error message: every text that may echo a
// request (a URL with the token in it, a server's error body) goes through here first.

/** What a secret is replaced with. */
export const REDACTED = '<token>';

/** Replaces every occurrence of each secret, and of its URL-encoded form, with REDACTED; empty secrets are skipped. */
export function redactSecrets(text: string, secrets: readonly (string | undefined)[]): string {
  let out = text;
  for (const secret of secrets) {
    if (!secret) continue;
    out = out.split(secret).join(REDACTED);
    const encoded = encodeURIComponent(secret);
    if (encoded !== secret) out = out.split(encoded).join(REDACTED);
  }
  return out;
}
