/**
 * permessage-deflate negotiation (RFC 7692 section 7.1) as pure functions:
 * the client's offer, the server's choice among the offers of a request, and
 * the client's check of the server's answer. Nothing here throws on what a
 * peer sent; every refusal is a value that names the offending parameter.
 */
import {
  formatExtension,
  parseExtensions,
  type ExtensionElement,
  type ExtensionParam,
} from './header.js';

/** The registered extension name (RFC 7692 7). */
export const PERMESSAGE_DEFLATE = 'permessage-deflate';

/**
 * Tuning of permessage-deflate, the same shape on both sides. Each field
 * says what this end offers (client) or accepts and answers (server).
 */
export interface PerMessageDeflateOptions {
  /**
   * Ask that the server compress each message on its own (no LZ77 window
   * carried between messages): less memory on both ends, worse ratio on
   * similar messages. Default false.
   */
  serverNoContextTakeover?: boolean;
  /** Ask that the client compress each message on its own; default false. */
  clientNoContextTakeover?: boolean;
  /**
   * Largest LZ77 window (base-2 log, 8 to 15) the server compresses with.
   * Default: server 12 (4 KiB of history kept per connection, as
   * python-websockets), client not offered (the server chooses, up to 15).
   */
  serverMaxWindowBits?: number;
  /**
   * Largest LZ77 window (8 to 15) the client compresses with. Default: the
   * client offers `client_max_window_bits` with no value (it accepts any
   * window, as browsers do); the server answers 12 when the client offered
   * the parameter.
   */
  clientMaxWindowBits?: number;
  /** zlib memLevel (1 to 9) of our compressor: native memory while compressing. Default 5 (server) and 8 (client). */
  memLevel?: number;
  /** zlib compression level (0 to 9); default 6 (zlib's default). */
  level?: number;
  /** Messages shorter than this many bytes are sent uncompressed; default 1024 (ws's threshold). */
  threshold?: number;
}

/** The parameters in force once negotiated, resolved to numbers. */
export interface DeflateParams {
  serverNoContextTakeover: boolean;
  clientNoContextTakeover: boolean;
  /** Window bits the server compresses with (15 when not negotiated). */
  serverMaxWindowBits: number;
  /** Window bits the client compresses with (15 when not negotiated). */
  clientMaxWindowBits: number;
}

/** The outcome of checking an answer or an offer: the parameters, or the parameter at fault and why. */
export type NegotiationResult =
  | { readonly ok: true; readonly params: DeflateParams; readonly header: string }
  | { readonly ok: false; readonly param: string; readonly message: string };

/** Default window bits of the server's compressor and of the client window it asks for. */
export const DEFAULT_SERVER_WINDOW_BITS = 12;
/** Default memLevel of the server's compressor (python-websockets' choice). */
export const DEFAULT_SERVER_MEM_LEVEL = 5;
/** Default memLevel of the client's compressor (zlib's default). */
export const DEFAULT_CLIENT_MEM_LEVEL = 8;
/** Default of {@link PerMessageDeflateOptions.threshold}. */
export const DEFAULT_DEFLATE_THRESHOLD = 1024;

/**
 * Checks the options a user passed; throws RangeError on a bad value (this is
 * local configuration, not peer input). Window bits range from 8 to 15, as
 * in the RFC (see {@link PerMessageDeflate} for how 8 is compressed).
 */
export function validateDeflateOptions(o: PerMessageDeflateOptions): void {
  const bits = (name: string, v: number | undefined): void => {
    if (v !== undefined && !(Number.isInteger(v) && v >= 8 && v <= 15)) {
      throw new RangeError(`perMessageDeflate.${name} must be an integer from 8 to 15`);
    }
  };
  bits('serverMaxWindowBits', o.serverMaxWindowBits);
  bits('clientMaxWindowBits', o.clientMaxWindowBits);
  if (
    o.memLevel !== undefined &&
    !(Number.isInteger(o.memLevel) && o.memLevel >= 1 && o.memLevel <= 9)
  )
    throw new RangeError('perMessageDeflate.memLevel must be an integer from 1 to 9');
  if (o.level !== undefined && !(Number.isInteger(o.level) && o.level >= 0 && o.level <= 9))
    throw new RangeError('perMessageDeflate.level must be an integer from 0 to 9');
  if (o.threshold !== undefined && !(o.threshold >= 0))
    throw new RangeError('perMessageDeflate.threshold must be a non-negative number');
}

/** The `perMessageDeflate` option of the client and the server: false turns compression off, true or an object turns it on. */
export type PerMessageDeflateOption = boolean | PerMessageDeflateOptions;

/** Tunings {@link resolveDeflateOption} read and validated: taken as they are. */
const resolvedOptions = new WeakSet<PerMessageDeflateOptions>();
/** The defaults' tuning: nothing set. */
const DEFAULT_TUNING: PerMessageDeflateOptions = Object.freeze({});
resolvedOptions.add(DEFAULT_TUNING);

/**
 * The option resolved: null when off, else the validated tuning (`{}` for
 * the defaults). Throws TypeError or RangeError on a bad value. An object is
 * read once, member by member (own or inherited, as WebIDL reads a
 * dictionary), and what was read is returned: changing the caller's object
 * afterwards changes nothing.
 */
export function resolveDeflateOption(
  option: PerMessageDeflateOption | undefined,
): PerMessageDeflateOptions | null {
  if (option === false) return null;
  if (option === undefined || option === true) return DEFAULT_TUNING;
  if (typeof option !== 'object' || option === null)
    throw new TypeError('perMessageDeflate must be a boolean or an object');
  if (resolvedOptions.has(option)) return option;
  const read: PerMessageDeflateOptions = {
    clientMaxWindowBits: option.clientMaxWindowBits,
    clientNoContextTakeover: option.clientNoContextTakeover,
    level: option.level,
    memLevel: option.memLevel,
    serverMaxWindowBits: option.serverMaxWindowBits,
    serverNoContextTakeover: option.serverNoContextTakeover,
    threshold: option.threshold,
  };
  validateDeflateOptions(read);
  resolvedOptions.add(read);
  return read;
}

const KNOWN = new Set([
  'server_no_context_takeover',
  'client_no_context_takeover',
  'server_max_window_bits',
  'client_max_window_bits',
]);

/**
 * RFC 7692 7.1.2.1: window bits are "a decimal integer value without leading
 * zeroes between 8 to 15, inclusive" (`%x38-39 / "1" %x30-35`).
 */
function windowBits(value: string | null): number | null {
  if (value === null) return null;
  if (value.length === 1) return value === '8' || value === '9' ? Number(value) : null;
  if (value.length === 2 && value[0] === '1' && value[1]! >= '0' && value[1]! <= '5')
    return Number(value);
  return null;
}

/** The parameters of one element as a map, or the first unknown, repeated or malformed one. */
type ParamMap = Map<string, string | null>;
function collect(
  params: readonly ExtensionParam[],
  requireBitsValue: { client: boolean },
): { ok: true; map: ParamMap } | { ok: false; param: string; message: string } {
  const map: ParamMap = new Map();
  for (const p of params) {
    // RFC 7692 7.1: an offer or response with "an extension parameter not
    // defined for use in an offer/response" or "more than one extension
    // parameter with the same name" or "an invalid value" is declined/failed.
    if (!KNOWN.has(p.name))
      return { ok: false, param: p.name, message: `unknown parameter "${p.name}"` };
    if (map.has(p.name))
      return { ok: false, param: p.name, message: `parameter "${p.name}" appears more than once` };
    if (p.name.endsWith('_no_context_takeover')) {
      // RFC 7692 7.1.1.1/7.1.1.2: "This extension parameter has no value."
      if (p.value !== null)
        return {
          ok: false,
          param: p.name,
          message: `parameter "${p.name}" must have no value, got "${p.value}"`,
        };
    } else if (p.value === null) {
      // server_max_window_bits always needs a value; client_max_window_bits may be bare only in an offer.
      if (p.name === 'server_max_window_bits' || requireBitsValue.client) {
        return {
          ok: false,
          param: p.name,
          message: `parameter "${p.name}" needs a value from 8 to 15`,
        };
      }
    } else if (windowBits(p.value) === null) {
      return {
        ok: false,
        param: p.name,
        message: `parameter "${p.name}" has the value "${p.value}"; it must be from 8 to 15`,
      };
    }
    map.set(p.name, p.value);
  }
  return { ok: true, map };
}

/** The client's offer as a header value: `permessage-deflate; client_max_window_bits` with the defaults. */
export function clientOffer(o: PerMessageDeflateOptions = {}): string {
  const params: ExtensionParam[] = [];
  if (o.serverNoContextTakeover === true)
    params.push({ name: 'server_no_context_takeover', value: null });
  if (o.clientNoContextTakeover === true)
    params.push({ name: 'client_no_context_takeover', value: null });
  if (o.serverMaxWindowBits !== undefined)
    params.push({ name: 'server_max_window_bits', value: String(o.serverMaxWindowBits) });
  // RFC 7692 7.1.2.2: a client that does not offer client_max_window_bits must
  // be answered without it, so it is always offered (with a value if configured).
  params.push({
    name: 'client_max_window_bits',
    value: o.clientMaxWindowBits === undefined ? null : String(o.clientMaxWindowBits),
  });
  return formatExtension({ name: PERMESSAGE_DEFLATE, params });
}

/**
 * The server's choice: the first permessage-deflate offer in the request's
 * `Sec-WebSocket-Extensions` value that it can accept, with the response
 * header element to send. Offers with unknown, repeated or out-of-range
 * parameters are declined one by one (RFC 7692 7.1: "A server MUST decline an
 * extension negotiation offer for this extension if any of the following
 * conditions are met"). `null` when no offer is acceptable or the header is
 * malformed (then the connection proceeds without compression).
 */
export function acceptOffer(
  header: string,
  o: PerMessageDeflateOptions = {},
): { params: DeflateParams; header: string } | null {
  const parsed = parseExtensions(header);
  if (!parsed.ok) return null;
  for (const ext of parsed.extensions) {
    if (ext.name !== PERMESSAGE_DEFLATE) continue;
    const r = acceptOne(ext, o);
    if (r !== null) return r;
  }
  return null;
}

function acceptOne(
  ext: ExtensionElement,
  o: PerMessageDeflateOptions,
): { params: DeflateParams; header: string } | null {
  const c = collect(ext.params, { client: false });
  if (!c.ok) return null;
  const offer = c.map;
  const out: ExtensionParam[] = [];
  // RFC 7692 7.1.1.1: a server accepting an offer with server_no_context_takeover
  // "MUST include the "server_no_context_takeover" extension parameter in the response".
  const serverNoCtx = offer.has('server_no_context_takeover') || o.serverNoContextTakeover === true;
  if (serverNoCtx) out.push({ name: 'server_no_context_takeover', value: null });
  // RFC 7692 7.1.1.2: the server may ask the client not to take over context.
  const clientNoCtx = offer.has('client_no_context_takeover') || o.clientNoContextTakeover === true;
  if (clientNoCtx) out.push({ name: 'client_no_context_takeover', value: null });

  const ours = o.serverMaxWindowBits ?? DEFAULT_SERVER_WINDOW_BITS;
  const offeredServerBits = windowBits(offer.get('server_max_window_bits') ?? null);
  // RFC 7692 7.1.2.1: with server_max_window_bits offered, the response carries a value "equal to or smaller than" it.
  const serverBits = offeredServerBits === null ? ours : Math.min(ours, offeredServerBits);
  if (serverBits < 15 || offeredServerBits !== null)
    out.push({ name: 'server_max_window_bits', value: String(serverBits) });

  let clientBits = 15;
  if (offer.has('client_max_window_bits')) {
    const offered = windowBits(offer.get('client_max_window_bits') ?? null);
    const wanted = o.clientMaxWindowBits ?? DEFAULT_SERVER_WINDOW_BITS;
    // RFC 7692 7.1.2.2: the response value is "equal to or smaller than the received value".
    clientBits = offered === null ? wanted : Math.min(wanted, offered);
    if (clientBits < 15 || offered !== null)
      out.push({ name: 'client_max_window_bits', value: String(clientBits) });
  }
  // RFC 7692 7.1.2.2: "If a received extension negotiation offer doesn't have the
  // "client_max_window_bits" extension parameter, the corresponding extension
  // negotiation response to the offer MUST NOT include" it: the client keeps 15.
  return {
    params: {
      serverNoContextTakeover: serverNoCtx,
      clientNoContextTakeover: clientNoCtx,
      serverMaxWindowBits: serverBits,
      clientMaxWindowBits: clientBits,
    },
    header: formatExtension({ name: PERMESSAGE_DEFLATE, params: out }),
  };
}

/**
 * The client's check of the server's `Sec-WebSocket-Extensions` answer
 * (`undefined` or empty: no extension in use, which is always acceptable).
 * RFC 7692 7.1: the client "MUST _Fail the WebSocket Connection_" when the
 * response has a parameter it does not know, one twice, an invalid value, or
 * one it did not allow in its offer. Returns `{ ok: true, params: null }`
 * when the server declined.
 */
export function validateAnswer(
  header: string | undefined,
  o: PerMessageDeflateOptions = {},
):
  | { readonly ok: true; readonly params: DeflateParams | null; readonly header: string }
  | { readonly ok: false; readonly param: string; readonly message: string } {
  if (header === undefined || header.trim() === '') return { ok: true, params: null, header: '' };
  const parsed = parseExtensions(header);
  if (!parsed.ok) {
    return {
      ok: false,
      param: 'Sec-WebSocket-Extensions',
      message: `malformed Sec-WebSocket-Extensions: ${parsed.error}`,
    };
  }
  const list = parsed.extensions;
  for (const ext of list) {
    if (ext.name !== PERMESSAGE_DEFLATE)
      return {
        ok: false,
        param: ext.name,
        message: `server accepted extension "${ext.name}", which was not offered`,
      };
  }
  if (list.length === 0) return { ok: true, params: null, header: '' };
  if (list.length > 1) {
    return {
      ok: false,
      param: PERMESSAGE_DEFLATE,
      message: 'server accepted permessage-deflate more than once',
    };
  }
  const c = collect(list[0]!.params, { client: true });
  if (!c.ok)
    return {
      ok: false,
      param: c.param,
      message: `server answered permessage-deflate with ${c.message}`,
    };
  const answer = c.map;
  const fail = (param: string, message: string) => ({ ok: false as const, param, message });

  // RFC 7692 7.1.1.1: the server MUST include server_no_context_takeover when it was offered.
  if (o.serverNoContextTakeover === true && !answer.has('server_no_context_takeover'))
    return fail(
      'server_no_context_takeover',
      'server did not confirm server_no_context_takeover, which was offered',
    );
  let serverBits = 15;
  if (answer.has('server_max_window_bits')) {
    serverBits = windowBits(answer.get('server_max_window_bits')!)!;
    // RFC 7692 7.1.2.1: the value must be "equal to or smaller than" the one offered.
    if (o.serverMaxWindowBits !== undefined && serverBits > o.serverMaxWindowBits)
      return fail(
        'server_max_window_bits',
        `server answered server_max_window_bits=${serverBits}, more than the ${o.serverMaxWindowBits} offered`,
      );
  } else if (o.serverMaxWindowBits !== undefined) {
    // RFC 7692 7.1.2.1: a server accepting an offer with server_max_window_bits MUST include it.
    return fail(
      'server_max_window_bits',
      'server did not confirm server_max_window_bits, which was offered',
    );
  }
  let clientBits = o.clientMaxWindowBits ?? 15;
  if (answer.has('client_max_window_bits')) {
    const v = windowBits(answer.get('client_max_window_bits')!)!;
    // The client always offers client_max_window_bits (see clientOffer), so only the value is checked.
    if (v > clientBits)
      return fail(
        'client_max_window_bits',
        `server answered client_max_window_bits=${v}, more than the ${clientBits} offered`,
      );
    clientBits = v;
  }
  return {
    ok: true,
    header: formatExtension(list[0]!),
    params: {
      serverNoContextTakeover: answer.has('server_no_context_takeover'),
      clientNoContextTakeover:
        answer.has('client_no_context_takeover') || o.clientNoContextTakeover === true,
      serverMaxWindowBits: serverBits,
      clientMaxWindowBits: clientBits,
    },
  };
}
