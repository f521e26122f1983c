/**
 * The server's handshake decision (ServerHandshake): check, accept and
 * reject return values; nothing is written anywhere.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import {
  HandshakeError,
  offerExtensionsByName,
  serializeResponse,
  ServerHandshake,
  validateServerResponse,
  parseResponseHead,
  type HandshakeResponse,
  type RequestLike,
  type ServerExtensions,
} from '../../src/core/handshake/index.js';
import { sha1Base64 } from './helpers.js';

const KEY = 'dGhlIHNhbXBsZSBub25jZQ==';
const ACCEPT = createHash('sha1')
  .update(KEY + '258EAFA5-E914-47DA-95CA-C5AB0DC85B11')
  .digest('base64');

function request(extra: Array<[string, string]> = [], method = 'GET'): RequestLike {
  const lines: Array<[string, string]> = [
    ['host', 'example.test'],
    ['upgrade', 'websocket'],
    ['connection', 'Upgrade'],
    ['sec-websocket-key', KEY],
    ['sec-websocket-version', '13'],
    ...extra.map(([n, v]): [string, string] => [n.toLowerCase(), v]),
  ];
  return {
    method,
    httpVersion: '1.1',
    headerLines: lines.length,
    header: (name) => {
      const values = lines.filter(([n]) => n === name).map(([, v]) => v);
      return values.length === 0 ? undefined : values.join(', ');
    },
    headerCount: (name) => lines.filter(([n]) => n === name).length,
  };
}

function header(response: HandshakeResponse, name: string): string | undefined {
  return response.headers.find(([n]) => n.toLowerCase() === name.toLowerCase())?.[1];
}

describe('ServerHandshake', () => {
  test('check then accept: a 101 with the accept key, and the client side agrees', () => {
    const decision = new ServerHandshake({ sha1Base64 });
    const checked = decision.check(request());
    assert.ok(checked.ok);
    const response = decision.accept(checked.request);
    assert.equal(response.status, 101);
    assert.equal(header(response, 'Sec-WebSocket-Accept'), ACCEPT);
    assert.equal(header(response, 'Sec-WebSocket-Protocol'), undefined);
    assert.equal(response.body, '');
    const text = serializeResponse(response);
    assert.ok(text.startsWith('HTTP/1.1 101 Switching Protocols\r\n'));
    assert.ok(text.endsWith('\r\n\r\n'));
    const head = parseResponseHead(text.slice(0, -4));
    assert.deepEqual(validateServerResponse(head, { key: KEY, sha1Base64, protocols: [] }), {
      protocol: '',
      extensions: '',
    });
  });

  test('subprotocol: the first offered one the server speaks, chosen in one place', () => {
    const decision = new ServerHandshake({ sha1Base64, protocols: ['b', 'c'] });
    const checked = decision.check(request([['Sec-WebSocket-Protocol', 'a, c, b']]));
    assert.ok(checked.ok);
    assert.equal(decision.selectProtocol(checked.request.protocols), 'c');
    assert.equal(header(decision.accept(checked.request), 'Sec-WebSocket-Protocol'), 'c');
    // An explicit choice (selectProtocol hook) wins; '' selects none.
    assert.equal(
      header(decision.accept(checked.request, { protocol: 'a' }), 'Sec-WebSocket-Protocol'),
      'a',
    );
    assert.equal(
      header(decision.accept(checked.request, { protocol: '' }), 'Sec-WebSocket-Protocol'),
      undefined,
    );
    // A protocol the client did not offer is the application's mistake: TypeError.
    assert.throws(() => decision.accept(checked.request, { protocol: 'z' }), TypeError);
  });

  test('extra response headers are checked: a handshake field or CR/LF throws TypeError', () => {
    const decision = new ServerHandshake({ sha1Base64 });
    const checked = decision.check(request());
    assert.ok(checked.ok);
    const ok = decision.accept(checked.request, { headers: [['Set-Cookie', 'a=b']] });
    assert.equal(header(ok, 'Set-Cookie'), 'a=b');
    assert.throws(
      () => decision.accept(checked.request, { headers: [['Sec-WebSocket-Accept', 'x']] }),
      TypeError,
    );
    assert.throws(
      () => decision.accept(checked.request, { headers: [['X-A', 'a\r\nX-B: b']] }),
      TypeError,
    );
  });

  test('an invalid request: the error and the response that refuses it', () => {
    const decision = new ServerHandshake({ sha1Base64 });
    const checked = decision.check(request([], 'POST'));
    assert.ok(!checked.ok);
    assert.ok(checked.error instanceof HandshakeError);
    assert.equal(checked.error.code, 'BAD_METHOD');
    assert.equal(checked.response.status, 405);
    assert.equal(header(checked.response, 'Allow'), 'GET');
    assert.equal(header(checked.response, 'Connection'), 'close');
    assert.equal(checked.response.body, `${checked.error.message}\n`);
    assert.equal(header(checked.response, 'Content-Length'), String(checked.response.body.length));
  });

  test('allowOrigins: another origin gets 403; no Origin (not a browser) passes', () => {
    const decision = new ServerHandshake({ sha1Base64, allowOrigins: ['https://good.test'] });
    assert.ok(decision.check(request([['Origin', 'https://good.test']])).ok);
    assert.ok(decision.check(request()).ok);
    const bad = decision.check(request([['Origin', 'https://evil.test']]));
    assert.ok(!bad.ok);
    assert.equal(bad.error.code, 'FORBIDDEN_ORIGIN');
    assert.equal(bad.response.status, 403);
  });

  test('maxHeaderCount: more lines get 431 (as the client refuses), exactly that many pass', () => {
    const decision = new ServerHandshake({ sha1Base64, maxHeaderCount: 7 });
    assert.ok(
      decision.check(
        request([
          ['X-A', '1'],
          ['X-B', '2'],
        ]),
      ).ok,
    );
    const over = decision.check(
      request([
        ['X-A', '1'],
        ['X-B', '2'],
        ['X-C', '3'],
      ]),
    );
    assert.ok(!over.ok);
    assert.equal(over.error.code, 'TOO_MANY_HEADERS');
    assert.equal(over.response.status, 431);
    assert.equal(over.response.statusText, 'Request Header Fields Too Large');
  });

  test('reject: any status with a plain-text body and extra headers', () => {
    const response = new ServerHandshake({ sha1Base64 }).reject(401, 'Who are you?', [
      ['WWW-Authenticate', 'Basic'],
    ]);
    assert.equal(response.status, 401);
    const text = serializeResponse(response);
    assert.ok(text.startsWith('HTTP/1.1 401 Unauthorized\r\n'));
    assert.match(text, /\r\nWWW-Authenticate: Basic\r\n/);
    assert.ok(text.endsWith('\r\n\r\nWho are you?\n'));
  });

  test('the extension seam: the server answers the offer, the client checks the answer', () => {
    const offers: string[] = [];
    const extensions: ServerExtensions = {
      respond(offer) {
        offers.push(offer);
        if (offer.includes('broken'))
          throw new HandshakeError('MALFORMED_EXTENSION_OFFER', 'Bad extension offer');
        return offer.includes('x-test') ? 'x-test; p=1' : '';
      },
    };
    const decision = new ServerHandshake({ sha1Base64, extensions });
    const client = offerExtensionsByName(['x-test']);
    const checked = decision.check(request([['Sec-WebSocket-Extensions', client.offer()]]));
    assert.ok(checked.ok);
    const response = decision.accept(checked.request);
    assert.deepEqual(offers, ['x-test']);
    assert.equal(header(response, 'Sec-WebSocket-Extensions'), 'x-test; p=1');
    const head = parseResponseHead(serializeResponse(response).slice(0, -4));
    assert.equal(
      validateServerResponse(head, { key: KEY, sha1Base64, protocols: [], extensions: client })
        .extensions,
      'x-test; p=1',
    );
    // Without the offer the client fails on the same answer (RFC 6455 4.1).
    assert.throws(
      () => validateServerResponse(head, { key: KEY, sha1Base64, protocols: [] }),
      (e: unknown) => e instanceof HandshakeError && e.code === 'UNREQUESTED_EXTENSION',
    );
    // A malformed offer: the server refuses with 400 instead of a 101.
    const broken = decision.check(request([['Sec-WebSocket-Extensions', 'broken']]));
    assert.ok(broken.ok);
    assert.equal(decision.accept(broken.request).status, 400);
    // The default negotiates nothing, whatever is offered.
    const plain = new ServerHandshake({ sha1Base64 });
    const offered = plain.check(request([['Sec-WebSocket-Extensions', 'permessage-deflate']]));
    assert.ok(offered.ok);
    assert.equal(header(plain.accept(offered.request), 'Sec-WebSocket-Extensions'), undefined);
  });
});
