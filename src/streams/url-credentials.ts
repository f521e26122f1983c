/**
 * Credentials in a WebSocket URL (`ws://user:password@host/`): sent as HTTP
 * Basic authentication, and never shown in error messages.
 */

/** A URL's user and password, percent-decoded where they can be (the raw text where a % starts no escape). */
function decodedPart(part: string): string {
  try {
    return decodeURIComponent(part);
  } catch {
    return part;
  }
}

/**
 * The `Authorization` header of credentials in a WebSocket URL
 * (`ws://user:password@host/`): HTTP Basic (RFC 7617, UTF-8), as ws sends
 * them and browsers do (WPT websockets/basic-auth.any.js). Null without any.
 */
export function basicAuthOfUrl(url: URL): string | null {
  if (url.username === '' && url.password === '') return null;
  const bytes = new TextEncoder().encode(
    `${decodedPart(url.username)}:${decodedPart(url.password)}`,
  );
  let binary = '';
  for (let i = 0; i < bytes.length; i++) binary += String.fromCharCode(bytes[i]!);
  return `Basic ${btoa(binary)}`;
}

/** A URL as error messages show it: without its credentials. */
export function urlForMessages(url: URL | string): string {
  const copy = new URL(url);
  if (copy.username === '' && copy.password === '') return copy.href;
  copy.username = '';
  copy.password = '';
  return copy.href;
}
