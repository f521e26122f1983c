/**
 * The proxy environment rules (curl's and undici's convention) and the
 * checking of the `proxy` / `socketPath` options, without a network.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { WebSocketStream } from '../../src/index.js';
import { buildConnectRequest, ConnectAnswerReader, ProxyError } from '../../src/node/proxy.js';
import {
  chooseProxy,
  isExempt,
  parseNoProxy,
  proxyFromEnvironment,
} from '../../src/node/proxy-env.js';
import { parseProxyUrl, readProxyOption } from '../../src/streams/proxy-option.js';

const ws = new URL('ws://example.com/chat');
const wss = new URL('wss://example.com/chat');

function pick(url: URL, env: Record<string, string>): string | null {
  return proxyFromEnvironment(url, env)?.href ?? null;
}

void describe('HTTPS_PROXY / HTTP_PROXY', () => {
  it('wss: takes https_proxy, ws: takes http_proxy, with no fallback between them', () => {
    const env = { https_proxy: 'http://secure:3128', http_proxy: 'http://plain:3128' };
    assert.equal(pick(wss, env), 'http://secure:3128/');
    assert.equal(pick(ws, env), 'http://plain:3128/');
    assert.equal(pick(wss, { http_proxy: 'http://plain:3128' }), null);
    assert.equal(pick(ws, { https_proxy: 'http://secure:3128' }), null);
  });

  it('the lowercase name wins over the uppercase one; the uppercase one alone counts', () => {
    assert.equal(
      pick(wss, { https_proxy: 'http://lower:1', HTTPS_PROXY: 'http://upper:2' }),
      'http://lower:1/',
    );
    assert.equal(pick(wss, { HTTPS_PROXY: 'http://upper:2' }), 'http://upper:2/');
    assert.equal(pick(ws, { HTTP_PROXY: 'http://upper:2' }), 'http://upper:2/');
    // A lowercase variable set to "" means no proxy, even with the uppercase one set.
    assert.equal(pick(wss, { https_proxy: '', HTTPS_PROXY: 'http://upper:2' }), null);
  });

  it('a value without a scheme is taken as http:, credentials are kept', () => {
    assert.equal(pick(ws, { http_proxy: 'proxy.corp:8080' }), 'http://proxy.corp:8080/');
    assert.equal(
      pick(ws, { http_proxy: 'http://u:p%40ss@proxy:8080' }),
      'http://u:p%40ss@proxy:8080/',
    );
  });

  it('a value that is not a proxy URL is an error naming the variable', () => {
    assert.throws(() => pick(wss, { HTTPS_PROXY: 'socks5://x:1080' }), /HTTPS_PROXY proxy URL/);
    assert.throws(() => pick(wss, { https_proxy: 'https://x:443' }), /only http: proxies/);
  });

  it('a bad proxy URL with credentials: the message never shows them', () => {
    for (const value of [
      'socks5://alice:s3cret@proxy.corp:1080',
      'http://alice:s3cret@proxy.corp:99999',
      'http://alice:s3cret@[bad:3128',
      ' alice:s3cret@proxy.corp:99999',
    ]) {
      for (const attempt of [
        () => pick(wss, { https_proxy: value }),
        () => parseProxyUrl(value),
        () => readProxyOption(value),
      ]) {
        assert.throws(attempt, (error: Error) => {
          assert.doesNotMatch(error.message, /s3cret|alice/, error.message);
          assert.match(error.message, /\*\*\*@/);
          return true;
        });
      }
    }
  });

  it("NODE_USE_ENV_PROXY=1 turns the environment on when the option is left out; 'env' always does", () => {
    const env = { https_proxy: 'http://p:1' };
    assert.equal(chooseProxy(wss, { kind: 'default' }, env), null);
    assert.equal(
      chooseProxy(wss, { kind: 'default' }, { ...env, NODE_USE_ENV_PROXY: '1' })?.host,
      'p:1',
    );
    assert.equal(chooseProxy(wss, { kind: 'env' }, env)?.host, 'p:1');
    assert.equal(chooseProxy(wss, { kind: 'none' }, { ...env, NODE_USE_ENV_PROXY: '1' }), null);
    // An environment the runtime will not let us read (Deno without --allow-env): direct.
    const denied = new Proxy(
      {},
      {
        get() {
          throw new Error('PermissionDenied: env access');
        },
      },
    );
    assert.equal(chooseProxy(wss, { kind: 'default' }, denied), null);
    assert.throws(() => chooseProxy(wss, { kind: 'env' }, denied), /PermissionDenied/);
  });
});

void describe('NO_PROXY', () => {
  const cases: Array<[string, string, number, boolean]> = [
    // [no_proxy, host, port, exempt]
    ['*', 'anything.example', 443, true],
    ['example.com', 'example.com', 443, true],
    ['example.com', 'www.example.com', 443, true],
    ['example.com', 'notexample.com', 443, false],
    ['example.com', 'example.com.evil', 443, false],
    ['.example.com', 'www.example.com', 443, true],
    ['.example.com', 'example.com', 443, false],
    ['*.example.com', 'a.b.example.com', 443, true],
    ['*.example.com', 'example.com', 443, false],
    ['EXAMPLE.com', 'Example.COM', 80, true],
    ['example.com.', 'example.com', 80, true],
    ['example.com:8443', 'example.com', 8443, true],
    ['example.com:8443', 'example.com', 443, false],
    ['localhost,127.0.0.1', '127.0.0.1', 9, true],
    ['127.0.0.1', '127.0.0.10', 9, false],
    // An address matches the same address only, written in any form, never as a suffix.
    ['0.0.1', '127.0.0.1', 9, false],
    ['.0.0.1', '127.0.0.1', 9, false],
    ['0.1', '10.0.0.1', 9, false],
    ['127.1', '127.0.0.1', 9, true],
    ['0:0:0:0:0:0:0:1', '[::1]', 80, true],
    ['::1', '[::2]', 80, false],
    ['::1', '[::1]', 80, true],
    ['[::1]:8080', '[::1]', 8080, true],
    ['[::1]:8080', '[::1]', 8081, false],
    // A CIDR range holds the addresses under its prefix, of its own family.
    ['10.0.0.0/8', '10.255.1.2', 80, true],
    ['10.0.0.0/8', '11.0.0.0', 80, false],
    ['10.0.0.0/8', '9.255.255.255', 80, false],
    ['192.168.1.0/24', '192.168.1.255', 80, true],
    ['192.168.1.0/24', '192.168.2.0', 80, false],
    ['172.16.0.0/12', '172.31.255.255', 80, true],
    ['172.16.0.0/12', '172.32.0.0', 80, false],
    ['10.1.2.3/8', '10.9.9.9', 80, true],
    ['10.0.0.1/32', '10.0.0.1', 80, true],
    ['10.0.0.1/32', '10.0.0.2', 80, false],
    ['0.0.0.0/0', '203.0.113.7', 80, true],
    ['0.0.0.0/0', '[::1]', 80, false],
    ['fd00::/8', '[fd12:3456::1]', 80, true],
    ['fd00::/8', '[fe00::1]', 80, false],
    ['[fd00::]/8', '[fdff::1]', 80, true],
    ['2001:db8::/32', '[2001:db8:ffff::1]', 80, true],
    ['2001:db8::/32', '[2001:db9::]', 80, false],
    ['2001:db8::/33', '[2001:db8:7fff::1]', 80, true],
    ['2001:db8::/33', '[2001:db8:8000::]', 80, false],
    ['::1/128', '[::1]', 80, true],
    ['::1/128', '[::2]', 80, false],
    ['::/0', '[2001:db8::1]', 80, true],
    ['::/0', '127.0.0.1', 80, false],
    ['0:0:0:0:0:0:0:0/0', '[fe80::1]', 80, true],
    // An IPv4-mapped address is an IPv6 address here, as it is for an exact entry.
    ['10.0.0.0/8', '[::ffff:10.1.2.3]', 80, false],
    ['::ffff:10.0.0.0/104', '[::ffff:10.1.2.3]', 80, true],
    ['::ffff:0:0/96', '[::ffff:192.0.2.1]', 80, true],
    ['10.0.0.0/8:8080', '10.1.2.3', 8080, true],
    ['10.0.0.0/8:8080', '10.1.2.3', 80, false],
    ['[fd00::]/8:8080', '[fd00::1]', 8080, true],
    ['[fd00::]/8:8080', '[fd00::1]', 80, false],
    // A range never holds a name: no name is resolved.
    ['127.0.0.0/8', 'localhost', 80, false],
    ['10.0.0.0/8', '10.example', 80, false],
    // A malformed range holds nothing.
    ['10.0.0.0/33', '10.0.0.0', 80, false],
    ['::/129', '[::]', 80, false],
    ['10.0.0.0/', '10.0.0.0', 80, false],
    ['10.0.0.0/x', '10.0.0.0', 80, false],
    ['10.0.0.0/08', '10.0.0.0', 80, false],
    ['10.0.0.0/-1', '10.0.0.0', 80, false],
    ['10.0.0.0/8/8', '10.0.0.0', 80, false],
    ['/8', '10.0.0.0', 80, false],
    ['10/8', '10.0.0.1', 80, false],
    ['010.0.0.0/8', '8.0.0.1', 80, false],
    ['example.com/8', 'example.com', 80, false],
    ['fd00::g/8', '[fd00::1]', 80, false],
    ['10.0.0.0/33,10.0.0.0/8', '10.0.0.1', 80, true],
    ['  a.com ,, b.com  c.com ', 'c.com', 1, true],
    ['', 'example.com', 1, false],
    ['a.com,*', 'z.org', 1, true],
  ];
  for (const [noProxy, host, port, exempt] of cases) {
    it(`${JSON.stringify(noProxy)} ${exempt ? 'exempts' : 'does not exempt'} ${host}:${port}`, () => {
      assert.equal(isExempt(noProxy, host, port), exempt);
    });
  }

  it('is applied with the URL default port (443 for wss:, 80 for ws:) and lowercase first', () => {
    const env = { https_proxy: 'http://p:1', http_proxy: 'http://p:1' };
    assert.equal(pick(wss, { ...env, no_proxy: 'example.com:443' }), null);
    assert.equal(pick(ws, { ...env, no_proxy: 'example.com:443' }), 'http://p:1/');
    assert.equal(pick(ws, { ...env, no_proxy: 'example.com:80' }), null);
    assert.equal(
      pick(wss, { ...env, no_proxy: 'other.org', NO_PROXY: 'example.com' }),
      'http://p:1/',
    );
    assert.equal(pick(wss, { ...env, NO_PROXY: 'example.com' }), null);
    assert.equal(pick(new URL('ws://10.1.2.3:8080/'), { ...env, no_proxy: '10.0.0.0/8' }), null);
    assert.equal(pick(new URL('wss://[fd00::1]/'), { ...env, no_proxy: '[fd00::]/8:443' }), null);
    assert.equal(
      pick(new URL('ws://11.1.2.3/'), { ...env, no_proxy: '10.0.0.0/8' }),
      'http://p:1/',
    );
  });

  it('parses to entries', () => {
    assert.equal(parseNoProxy(' * '), '*');
    assert.deepEqual(parseNoProxy('*.a.com:81,b.org,10.0.0.0/8:82,[FD00::]/8:83'), [
      { host: '.a.com', port: 81 },
      { host: 'b.org', port: 0 },
      { host: '10.0.0.0/8', port: 82 },
      { host: 'fd00::/8', port: 83 },
    ]);
  });
});

void describe('the proxy option', () => {
  it('accepts http: URLs, host:port, URL objects, env, false and null', () => {
    assert.deepEqual(readProxyOption(undefined), { kind: 'default' });
    assert.deepEqual(readProxyOption(false), { kind: 'none' });
    assert.deepEqual(readProxyOption(null), { kind: 'none' });
    assert.deepEqual(readProxyOption('env'), { kind: 'env' });
    const parsed = readProxyOption(new URL('http://u:p@proxy:3128'));
    assert.equal(parsed.kind === 'url' && parsed.url.port, '3128');
    assert.equal(parseProxyUrl('proxy').href, 'http://proxy/');
  });

  it('refuses other values at construction', () => {
    const opts = (proxy: unknown) => ({ proxy }) as never;
    assert.throws(() => new WebSocketStream('ws://x/', opts('ftp://p:1')), { name: 'SyntaxError' });
    assert.throws(() => new WebSocketStream('ws://x/', opts('http://')), { name: 'SyntaxError' });
    assert.throws(() => new WebSocketStream('ws://x/', opts(3128)), TypeError);
    assert.throws(() => new WebSocketStream('ws://x/', opts(true)), TypeError);
    // A % in the credentials that starts no escape: refused here, not when the CONNECT is written.
    assert.throws(() => new WebSocketStream('ws://x/', opts('http://alice:100%sure@p:1')), {
      name: 'SyntaxError',
      message: /not percent-encoding/,
    });
    assert.throws(() => new WebSocketStream('ws://x/', { socketPath: '' }), TypeError);
    assert.throws(
      () => new WebSocketStream('ws://x/', { socketPath: '/tmp/s', proxy: 'http://p:1' }),
      /socketPath and proxy/,
    );
  });
});

void describe('CONNECT', () => {
  it('sends the authority form, Host and Basic credentials (percent-decoded)', () => {
    const req = buildConnectRequest(
      new URL('wss://[::1]/x'),
      new URL('http://al%20ice:p%40ss:w@proxy:3128'),
    );
    const basic = Buffer.from('al ice:p@ss:w').toString('base64');
    assert.equal(
      req,
      `CONNECT [::1]:443 HTTP/1.1\r\nHost: [::1]:443\r\nProxy-Authorization: Basic ${basic}\r\n\r\n`,
    );
    assert.doesNotMatch(buildConnectRequest(ws, new URL('http://proxy:1')), /Authorization/);
  });

  it('reads an answer split anywhere; 2xx opens the tunnel', () => {
    const bytes = Buffer.from('HTTP/1.1 200 Connection established\r\nX: y\r\n\r\n');
    for (let cut = 0; cut <= bytes.length; cut++) {
      const reader = new ConnectAnswerReader(new URL('http://p:1'), ws);
      const first = reader.push(bytes.subarray(0, cut));
      assert.equal(first, cut === bytes.length);
      if (!first) assert.equal(reader.push(bytes.subarray(cut)), true);
    }
  });

  it('interim 1xx answers before the 2xx are skipped, split anywhere; too many of them are refused', () => {
    const bytes = Buffer.from(
      'HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\nHTTP/1.1 200 OK\r\n\r\n',
    );
    for (let cut = 0; cut <= bytes.length; cut++) {
      const reader = new ConnectAnswerReader(new URL('http://p:1'), ws);
      const first = reader.push(bytes.subarray(0, cut));
      assert.equal(first, cut === bytes.length, `cut at ${cut}`);
      if (!first) assert.equal(reader.push(bytes.subarray(cut)), true, `cut at ${cut}`);
    }
    const flood = new ConnectAnswerReader(new URL('http://p:1'), ws);
    const interim = Buffer.from('HTTP/1.1 100 Continue\r\n\r\n');
    assert.throws(() => {
      for (let i = 0; i < 1000; i++) flood.push(interim);
    }, /invalid answer to CONNECT .*interim \(1xx\) answers of more than 16384 bytes/);
  });

  it('a refusal is a ProxyError with the status, without the credentials', () => {
    const reader = new ConnectAnswerReader(new URL('http://u:secret@p:1'), wss);
    const error = (() => {
      try {
        reader.push(Buffer.from('HTTP/1.0 407 Proxy Authentication Required\r\n\r\n'));
      } catch (e) {
        return e;
      }
    })();
    assert.ok(error instanceof ProxyError);
    assert.equal(error.status, 407);
    assert.match(
      error.message,
      /^Proxy http:\/\/p:1 refused CONNECT example.com:443: 407 Proxy Authentication Required/,
    );
    assert.doesNotMatch(error.message, /secret/);
  });

  it('refuses an answer head over 16 KiB, garbage, and bytes after the answer', () => {
    const big = new ConnectAnswerReader(new URL('http://p:1'), ws);
    assert.equal(big.push(Buffer.from('HTTP/1.1 200 OK\r\n')), false);
    assert.throws(
      () => big.push(Buffer.alloc(16 * 1024, 'a')),
      /invalid answer to CONNECT .*larger than 16384 bytes/,
    );
    assert.throws(
      () =>
        new ConnectAnswerReader(new URL('http://p:1'), ws).push(Buffer.from('SSH-2.0-x\r\n\r\n')),
      /invalid answer.*Malformed HTTP status line/,
    );
    assert.throws(
      () =>
        new ConnectAnswerReader(new URL('http://p:1'), ws).push(
          Buffer.from('HTTP/1.1 200 OK\r\n\r\nxx'),
        ),
      /2 unexpected bytes/,
    );
  });
});
