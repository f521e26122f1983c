/**
 * Escaping of what the network sends before it reaches a terminal. A
 * terminal interprets control sequences (ESC [ ... ), so a peer that can
 * print raw bytes can move the cursor, rewrite earlier lines, change the
 * window title or, on some terminals, answer back into the input: the
 * classic terminal-injection attack. On a TTY (in line mode, and in binary
 * mode unless --binary asked for raw bytes) every control character, every
 * C1 control and the Unicode bidirectional controls (which make text display
 * in an order other than its bytes, "Trojan Source") are shown as escapes
 * instead, and a backslash as `\\`, so the escaping cannot be forged.
 */

const NAMED: Record<string, string> = { '\n': '\\n', '\r': '\\r', '\t': '\\t', '\\': '\\\\' };

// C0 controls, DEL, C1 controls, line/paragraph separators, bidi embeddings,
// overrides and isolates, and the backslash. The implicit marks (ALM, LRM,
// RLM) are as invisible: they move the digits and punctuation next to
// right-to-left text, and make two different texts look the same.
const UNSAFE =
  /[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069\\]/g;

function escapeChar(c: string): string {
  const named = NAMED[c];
  if (named !== undefined) return named;
  const code = c.charCodeAt(0);
  return code <= 0xff
    ? `\\x${code.toString(16).padStart(2, '0')}`
    : `\\u${code.toString(16).padStart(4, '0')}`;
}

/** A text message made safe for a terminal, on one line. */
export function escapeText(text: string): string {
  return text.replace(UNSAFE, escapeChar);
}

const strictUtf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * A binary message made safe for a terminal: shown as text if it is valid
 * UTF-8, else printable ASCII as is and every other byte as `\xNN`.
 */
export function escapeBytes(bytes: Uint8Array): string {
  try {
    return escapeText(strictUtf8.decode(bytes));
  } catch {
    let out = '';
    for (const b of bytes) {
      if (b >= 0x20 && b < 0x7f && b !== 0x5c) out += String.fromCharCode(b);
      else out += escapeChar(String.fromCharCode(b));
    }
    return out;
  }
}

// What a diagnostic line must not carry to a terminal: the unsafe characters
// above but the backslash (a line is read, not parsed back).
const UNSAFE_IN_DIAGNOSTIC =
  /[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;

/**
 * Writes one `wsstream: ...` line to stderr. Such lines quote what peers
 * send (close reasons, HTTP status texts, `Location` headers, error
 * messages), and stderr is usually the same terminal as the output: their
 * control characters and bidi controls are escaped as in messages.
 */
export function writeDiagnostic(stderr: { write(text: string): unknown }, line: string): void {
  stderr.write(`wsstream: ${line.replace(UNSAFE_IN_DIAGNOSTIC, escapeChar)}\n`);
}

/**
 * A URL as the command shows it on stderr: without its user name and
 * password, which would end up in logs (as the library's error messages
 * leave them out). Text that is not a URL is shown as it is.
 */
export function shownUrl(url: string): string {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return url;
  }
  if (parsed.username === '' && parsed.password === '') return url;
  parsed.username = '';
  parsed.password = '';
  return parsed.href;
}
