/**
 * The `Sec-WebSocket-Extensions` header grammar (RFC 6455 9.1, list rules of
 * RFC 7230 7): a comma-separated list of extensions, each a token followed by
 * `; name[=value]` parameters, where a value is a token or a quoted string.
 * A hand-written scanner over the characters, no regular expressions, and it
 * never throws: a malformed header is a value, so no header a peer sends can
 * take the process down (undici's CVE-2026-2229 threw on a bad window size).
 *
 *   extension-list = 1#extension
 *   extension      = extension-token *( OWS ";" OWS extension-param )
 *   extension-param = token [ OWS "=" OWS (token | quoted-string) ]
 */

/** One parameter of an extension: `value` is null when the parameter has no `=value`. */
export interface ExtensionParam {
  /** Parameter name, lower-cased (extension parameter names are case-insensitive tokens). */
  readonly name: string;
  /** The value with any quoting removed, or null for a bare parameter. */
  readonly value: string | null;
}

/** One element of the list: an extension name and its parameters in the order given. */
export interface ExtensionElement {
  /** Extension name, lower-cased. */
  readonly name: string;
  readonly params: readonly ExtensionParam[];
}

/** Result of {@link parseExtensions}: the elements, or where the grammar was broken. */
export type ParsedExtensions =
  | { readonly ok: true; readonly extensions: ExtensionElement[] }
  | { readonly ok: false; readonly error: string };

const TCHAR = new Uint8Array(128);
for (const c of "!#$%&'*+-.^_`|~") TCHAR[c.charCodeAt(0)] = 1;
for (let c = 0x30; c <= 0x39; c++) TCHAR[c] = 1;
for (let c = 0x41; c <= 0x5a; c++) TCHAR[c] = 1;
for (let c = 0x61; c <= 0x7a; c++) TCHAR[c] = 1;

function isTchar(c: number): boolean {
  return c < 128 && TCHAR[c] === 1;
}

/** A scanner over one header value. */
class Scanner {
  i = 0;
  constructor(readonly s: string) {}
  get done(): boolean {
    return this.i >= this.s.length;
  }
  peek(): number {
    return this.s.charCodeAt(this.i);
  }
  skipOws(): void {
    while (this.i < this.s.length) {
      const c = this.s.charCodeAt(this.i);
      if (c !== 0x20 && c !== 0x09) break;
      this.i++;
    }
  }
  token(): string {
    const start = this.i;
    while (this.i < this.s.length && isTchar(this.s.charCodeAt(this.i))) this.i++;
    return this.s.slice(start, this.i);
  }
  /** A quoted-string (RFC 7230 3.2.6) starting at the opening quote; null if unterminated or invalid. */
  quoted(): string | null {
    this.i++; // opening DQUOTE
    let out = '';
    while (this.i < this.s.length) {
      const c = this.s.charCodeAt(this.i++);
      if (c === 0x22) return out;
      if (c === 0x5c) {
        if (this.i >= this.s.length) return null;
        const e = this.s.charCodeAt(this.i++);
        if (e < 0x20 && e !== 0x09) return null;
        out += String.fromCharCode(e);
        continue;
      }
      // qdtext = HTAB / SP / %x21 / %x23-5B / %x5D-7E / obs-text
      if ((c < 0x20 && c !== 0x09) || c === 0x7f || c > 0xff) return null;
      out += String.fromCharCode(c);
    }
    return null;
  }
}

/**
 * Parses a `Sec-WebSocket-Extensions` value (several header lines joined with
 * ", " first). Empty list elements are skipped as RFC 7230 7 asks of
 * recipients. A quoted value must unquote to a token (RFC 6455 9.1: "the value
 * after quoted-string unescaping MUST conform to the 'token' ABNF").
 */
export function parseExtensions(value: string): ParsedExtensions {
  const sc = new Scanner(value);
  const extensions: ExtensionElement[] = [];
  for (;;) {
    sc.skipOws();
    if (sc.done) break;
    if (sc.peek() === 0x2c) {
      sc.i++;
      continue;
    }
    const name = sc.token();
    if (name === '') return bad(sc, 'an extension name');
    const params: ExtensionParam[] = [];
    sc.skipOws();
    while (!sc.done && sc.peek() === 0x3b) {
      sc.i++;
      sc.skipOws();
      const pname = sc.token();
      if (pname === '') return bad(sc, `a parameter name in extension "${name}"`);
      sc.skipOws();
      let pvalue: string | null = null;
      if (!sc.done && sc.peek() === 0x3d) {
        sc.i++;
        sc.skipOws();
        if (!sc.done && sc.peek() === 0x22) {
          const q = sc.quoted();
          if (q === null) return bad(sc, `a closing quote in the value of parameter "${pname}"`);
          if (q === '' || !isTokenString(q)) {
            return {
              ok: false,
              error: `parameter "${pname}" has a quoted value that is not a token`,
            };
          }
          pvalue = q;
        } else {
          pvalue = sc.token();
          if (pvalue === '') return bad(sc, `a value for parameter "${pname}"`);
        }
        sc.skipOws();
      }
      params.push({ name: pname.toLowerCase(), value: pvalue });
    }
    extensions.push({ name: name.toLowerCase(), params });
    if (sc.done) break;
    if (sc.peek() !== 0x2c) return bad(sc, `"," or ";" after extension "${name}"`);
    sc.i++;
  }
  return { ok: true, extensions };
}

function isTokenString(s: string): boolean {
  for (let i = 0; i < s.length; i++) if (!isTchar(s.charCodeAt(i))) return false;
  return s.length > 0;
}

function bad(sc: Scanner, expected: string): ParsedExtensions {
  const found = sc.done ? 'the end' : JSON.stringify(sc.s[sc.i]);
  return { ok: false, error: `expected ${expected} at position ${sc.i}, found ${found}` };
}

/** Serialises one extension element as a header list element: `name; p; q=v`. */
export function formatExtension(element: ExtensionElement): string {
  let out = element.name;
  for (const p of element.params)
    out += p.value === null ? `; ${p.name}` : `; ${p.name}=${p.value}`;
  return out;
}
