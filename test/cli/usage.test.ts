/**
 * Usage errors exit with 2 and say what is wrong; --help exits with 0.
 */
import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { ensureBuilt, run } from './helpers.js';

before(() => ensureBuilt());

describe('usage errors: exit code 2 and a hint on stderr', () => {
  const cases: Array<[string, string[], RegExp]> = [
    ['no command', [], /Usage:/],
    ['an unknown command', ['listen'], /unknown command "listen"/],
    ['an unknown option', ['connect', '--nope', 'ws://127.0.0.1:1/'], /Unknown option '--nope'/],
    ['connect without a URL', ['connect'], /connect needs a URL/],
    ['connect with two URLs', ['connect', 'ws://a/', 'ws://b/'], /one URL, not 2/],
    [
      'a URL of another scheme',
      ['connect', 'ftp://127.0.0.1/'],
      /scheme must be ws, wss, http or https/,
    ],
    ['a URL with a fragment', ['connect', 'ws://127.0.0.1/#x'], /fragment/],
    [
      '--line with --binary',
      ['connect', '--line', '--binary', 'ws://127.0.0.1:1/'],
      /exclude each other/,
    ],
    [
      '--origin beside an Origin header',
      ['connect', '-H', 'origin: http://a', '--origin', 'http://b', 'ws://127.0.0.1:1/'],
      /--origin and an Origin header \(-H\) exclude each other/,
    ],
    [
      'a malformed header',
      ['connect', '-H', 'NoColon', 'ws://127.0.0.1:1/'],
      /is not "Name: value"/,
    ],
    [
      'a header that injects a line',
      ['connect', '-H', 'X: a\r\nEvil: 1', 'ws://127.0.0.1:1/'],
      /CR, LF, NUL and characters beyond U\+00FF/,
    ],
    [
      'a reserved header',
      ['connect', '-H', 'Upgrade: h2c', 'ws://127.0.0.1:1/'],
      /cannot be overridden/,
    ],
    ['an invalid subprotocol', ['connect', '-s', 'a b', 'ws://127.0.0.1:1/'], /not an HTTP token/],
    ['a bad size', ['connect', '--max-message-size', 'lots', 'ws://127.0.0.1:1/'], /is not a size/],
    [
      'a bad duration',
      ['connect', '--ping-interval', 'soon', 'ws://127.0.0.1:1/'],
      /is not a duration/,
    ],
    [
      'a missing CA file',
      ['connect', '--ca', '/nonexistent.pem', 'wss://127.0.0.1:1/'],
      /cannot read/,
    ],
    [
      '--cert without --key',
      ['connect', '--cert', '/dev/null', 'wss://127.0.0.1:1/'],
      /go together/,
    ],
    ['serve without --port', ['serve', '--echo'], /needs --port/],
    ['serve without a behaviour', ['serve', '--port', '0'], /exactly one of/],
    [
      'serve with two behaviours',
      ['serve', '--port', '0', '--echo', '--broadcast'],
      /exactly one of/,
    ],
    ['serve with a bad port', ['serve', '--port', '70000', '--echo'], /is not a port/],
    [
      'serve with an unknown policy',
      ['serve', '--port', '0', '--broadcast', '--slow', 'wait'],
      /is not close or drop/,
    ],
    [
      'serve --broadcast --max-queue 0',
      ['serve', '--port', '0', '--broadcast', '--max-queue', '0'],
      /--max-queue: "0" is less than 1 byte/,
    ],
    [
      '--slow without --broadcast',
      ['serve', '--port', '0', '--echo', '--slow', 'drop'],
      /apply to --broadcast/,
    ],
    ['--line without --exec', ['serve', '--port', '0', '--echo', '--line'], /apply to --exec/],
    [
      '--kill-after without --exec',
      ['serve', '--port', '0', '--echo', '--kill-after', '1s'],
      /--kill-after applies to --exec/,
    ],
    [
      'serve --exec --kill-after 0',
      ['serve', '--port', '0', '--exec', 'cat', '--kill-after', '0'],
      /--kill-after must be greater than 0/,
    ],
    [
      'serve --exec --kill-after past the longest timer (2^31 - 1 ms)',
      ['serve', '--port', '0', '--exec', 'cat', '--kill-after', '3000000s'],
      /--kill-after: "3000000s" is more than 2147483647 ms/,
    ],
    [
      'serve --ping-interval past the longest timer',
      ['serve', '--port', '0', '--echo', '--ping-interval', '3000000'],
      /--ping-interval: "3000000" is more than 2147483647 ms/,
    ],
    [
      'serve --exec --kill-after with no duration',
      ['serve', '--port', '0', '--exec', 'cat', '--kill-after', 'soon'],
      /--kill-after: "soon" is not a duration/,
    ],
    [
      'serve --max-connections 0',
      ['serve', '--port', '0', '--echo', '--max-connections', '0'],
      /--max-connections: "0" is not a positive whole number/,
    ],
    [
      'serve --max-connections 1.5',
      ['serve', '--port', '0', '--exec', 'cat', '--max-connections', '1.5'],
      /--max-connections: "1.5" is not a positive whole number/,
    ],
    [
      'serve --max-connections with no number',
      ['serve', '--port', '0', '--echo', '--max-connections', 'many'],
      /--max-connections: "many" is not a positive whole number/,
    ],
    [
      'connect --listen --max-connections -3',
      ['connect', 'ws://127.0.0.1:1/', '--listen', 'tcp:0', '--max-connections=-3'],
      /--max-connections: "-3" is not a positive whole number/,
    ],
    [
      'connect --listen --max-connections past the safe integers',
      ['connect', 'ws://127.0.0.1:1/', '--listen', 'tcp:0', '--max-connections', '9'.repeat(20)],
      /is not a positive whole number/,
    ],
    [
      '--max-connections without --listen',
      ['connect', 'ws://127.0.0.1:1/', '--max-connections', '5'],
      /--max-connections applies to --listen/,
    ],
    ['demo with a bad size', ['demo', '--slow-mb', '0'], /not a positive number/],
  ];
  for (const [name, args, message] of cases) {
    it(name, async () => {
      const r = await run(args, '');
      assert.equal(r.code, 2, r.stderr);
      assert.match(r.stderr, message);
      assert.equal(r.stdout.length, 0);
    });
  }
});

describe('--help and --version: exit code 0, on stdout', () => {
  for (const [args, expected] of [
    [['--help'], /wsstream connect URL/],
    [['connect', '--help'], /--exit-on-eof[\s\S]*--max-message-size/],
    [['serve', '--help'], /--exec CMD[\s\S]*--slow POLICY/],
    [['serve', '--help'], /--max-connections N\s+most clients at once[\s\S]*\(default 64;/],
    [['serve', '--help'], /--kill-after DURATION[\s\S]*SIGKILL[\s\S]*\(default 5s;/],
    [
      ['serve', '--help'],
      /--max-connections[\s\S]*slot is held until it has left\s+and its command has exited/,
    ],
    [['connect', '--help'], /--max-connections N\s+\(--listen\)[\s\S]*\(default 64\)/],
    [['demo', '--help'], /--slow-mb/],
    [['--version'], /^\d+\.\d+\.\d+\n$/],
  ] as Array<[string[], RegExp]>) {
    it(args.join(' '), async () => {
      const r = await run(args, '');
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout.toString(), expected);
    });
  }
});
