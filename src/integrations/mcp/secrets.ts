/**
 * The secrets of one MCP server (the values of its env and headers, which ${VAR} filled in) kept out
 * of everything the node writes about it: log lines (its stderr, why it closed), the reasons in
 * failures sent to agents, audit entries and `caxton tools list`. A server or its HTTP stack may echo
 * a token in an error ("invalid token abc..."): every text about a server passes through here, and
 * so does the content of a tool's error result.
 */
import { REDACTED } from '../../config/index.js';

/**
 * The most of a server's own text (an error message, an HTTP body, why it closed) the node repeats: in
 * a failure to an agent, `last_error` and a log line. A server chooses that text, and may make it megabytes.
 */
export const SERVER_TEXT_MAX = 1024;

/** Values shorter than this are not searched for: "1" or "true" would mask half of every text. */
const MIN_SECRET_CHARS = 6;

export class SecretMask {
  readonly #values: readonly string[];

  constructor(...maps: readonly Readonly<Record<string, string>>[]) {
    const values = new Set<string>();
    for (const m of maps) {
      for (const v of Object.values(m)) {
        if (v.length >= MIN_SECRET_CHARS) values.add(v);
        // "Bearer <token>": the token alone may be echoed too (the scheme is no secret).
        const rest = v.replace(/^\S+\s+/, '');
        if (rest !== v && rest.length >= MIN_SECRET_CHARS) values.add(rest);
      }
    }
    // Longest first: a secret that contains another is masked whole.
    this.#values = [...values].sort((a, b) => b.length - a.length);
  }

  /** `text` with every secret value replaced by ***. */
  mask(text: string): string {
    let out = text;
    for (const v of this.#values) if (out.includes(v)) out = out.split(v).join(REDACTED);
    return out;
  }

  /**
   * `value` (JSON: a tool's error content) with every string in it masked. The node passes that
   * content on in a failure, and the API logs a failed request with it: a server that echoes its
   * token in an error must not get it into either.
   */
  maskAll(value: unknown): unknown {
    if (this.#values.length === 0) return value;
    if (typeof value === 'string') return this.mask(value);
    if (Array.isArray(value)) return value.map((v) => this.maskAll(v));
    if (typeof value === 'object' && value !== null) return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, this.maskAll(v)]));
    return value;
  }

  /**
   * Text from or about a server, masked and cut to SERVER_TEXT_MAX characters. Cut generously before
   * masking (masking megabytes is slow) and exactly after, so that no secret is cut in half and shown.
   */
  told(text: string): string {
    const masked = this.mask(text.length > 16 * SERVER_TEXT_MAX ? text.slice(0, 16 * SERVER_TEXT_MAX) : text);
    return masked.length > SERVER_TEXT_MAX ? `${masked.slice(0, SERVER_TEXT_MAX)}… (${text.length} characters)` : masked;
  }
}
