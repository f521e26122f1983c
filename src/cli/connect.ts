/**
 * `wsstream connect URL`: stdin to messages, messages to stdout, through
 * toDuplex() so that both pipes carry backpressure end to end.
 */
import type { Readable, Writable } from 'node:stream';
import { finished } from 'node:stream/promises';
import { toDuplex } from '../index.js';
import type { TlsClientOptions, WebSocketStreamOptions } from '../index.js';
import { WebSocketStream } from '../index.js';
import {
  flag,
  list,
  parseCommand,
  parseHeader,
  parsePositiveDuration,
  readPem,
  str,
  UsageError,
} from './args.js';
import { CONNECTION_OPTIONS, readCertAndKey, readConnectionFlags } from './connection-flags.js';
import { describeClose, describeError, ExitCode, exitCodeForClose } from './exit-codes.js';
import { CONNECT_HELP } from './help.js';
import { openReconnecting } from './hub-reconnect.js';
import { formatLine, LineFormatter, LineSplitter, type Separator } from './lines.js';
import { CONNECT_EXTRA_OPTIONS, readConnectExtras, type Direction } from './connect-extras.js';
import { listenCommand } from './listen.js';
import { shownUrl, writeDiagnostic } from './escape.js';
import { chooseModes, type Output } from './modes.js';

/** The process's standard streams (replaceable in tests). */
export interface Stdio {
  stdin: Readable & { isTTY?: boolean };
  stdout: Writable & { isTTY?: boolean };
  stderr: Writable;
}

const OPTIONS = {
  ...CONNECTION_OPTIONS,
  line: { type: 'boolean' },
  binary: { type: 'boolean' },
  raw: { type: 'boolean' },
  once: { type: 'boolean' },
  'exit-on-eof': { type: 'boolean' },
  header: { type: 'string', short: 'H', multiple: true },
  origin: { type: 'string' },
  insecure: { type: 'boolean', short: 'k' },
  ca: { type: 'string' },
  'handshake-timeout': { type: 'string' },
  reconnect: { type: 'boolean' },
  ...CONNECT_EXTRA_OPTIONS,
  proxy: { type: 'string' },
  'no-proxy': { type: 'boolean' },
  unix: { type: 'string' },
} as const;

/** Runs `connect`; resolves with the exit code. */
export async function connectCommand(argv: string[], stdio: Stdio): Promise<number> {
  const parsed = parseCommand(argv, OPTIONS, CONNECT_HELP, stdio.stdout);
  if (parsed === null) return ExitCode.OK;
  const { values, positionals } = parsed;
  if (positionals.length !== 1) {
    throw new UsageError(
      positionals.length === 0
        ? 'connect needs a URL'
        : `connect takes one URL, not ${positionals.length}`,
    );
  }
  const url = positionals[0]!;
  const binary = flag(values, 'binary') || flag(values, 'raw');
  if (binary && flag(values, 'line'))
    throw new UsageError('--line and --binary exclude each other');
  const headers = list(values, 'header').map(parseHeader);
  // --listen, --basic-auth (added to headers), -0, -u, -U.
  const extras = readConnectExtras(values, headers);
  const { lineInput, output } = chooseModes({
    line: flag(values, 'line'),
    binary,
    nul: extras.separator === '\0',
    stdinIsTTY: stdio.stdin.isTTY === true,
    stdoutIsTTY: stdio.stdout.isTTY === true,
  });
  const once = flag(values, 'once');
  // -u only sends: once stdin has ended there is nothing left to do.
  const exitOnEof = flag(values, 'exit-on-eof') || extras.direction === 'send';

  const flags = readConnectionFlags(values);
  const options: WebSocketStreamOptions = flags;
  const origin = str(values, 'origin');
  if (origin !== undefined) {
    if (headers.some(([name]) => name.toLowerCase() === 'origin'))
      throw new UsageError('--origin and an Origin header (-H) exclude each other');
    headers.push(['Origin', origin]);
  }
  if (headers.length > 0) options.headers = headers;
  const tls: TlsClientOptions = {};
  if (flag(values, 'insecure')) tls.rejectUnauthorized = false;
  const ca = str(values, 'ca');
  if (ca !== undefined) tls.ca = readPem(ca, '--ca');
  const clientCertificate = readCertAndKey(values);
  if (clientCertificate !== undefined) Object.assign(tls, clientCertificate);
  if (Object.keys(tls).length > 0) options.tls = tls;
  const handshakeTimeout = str(values, 'handshake-timeout');
  if (handshakeTimeout !== undefined) {
    options.handshakeTimeout = parsePositiveDuration(handshakeTimeout, '--handshake-timeout');
  }
  // Like curl, the CLI follows HTTPS_PROXY / HTTP_PROXY / NO_PROXY unless told otherwise.
  const proxy = str(values, 'proxy');
  if (proxy !== undefined && flag(values, 'no-proxy'))
    throw new UsageError('--proxy and --no-proxy exclude each other');
  options.socketPath = str(values, 'unix');
  if (options.socketPath === undefined)
    options.proxy = flag(values, 'no-proxy') ? false : (proxy ?? 'env');
  else if (proxy !== undefined) throw new UsageError('--proxy and --unix exclude each other');

  if (extras.listen !== undefined) {
    return listenCommand(url, options, extras.listen, extras.maxConnections, stdio);
  }
  let ws: Connection;
  try {
    ws = flag(values, 'reconnect')
      ? openReconnecting(url, options, stdio.stderr)
      : new WebSocketStream(url, options);
  } catch (error) {
    // A bad URL, subprotocol or header: the caller's mistake.
    throw new UsageError(error instanceof Error ? error.message : String(error));
  }
  return run(ws, stdio, {
    lineInput,
    output,
    once,
    exitOnEof,
    maxLine: flags.maxMessageSize,
    separator: extras.separator,
    direction: extras.direction,
  });
}

interface RunOptions {
  lineInput: boolean;
  output: Output;
  once: boolean;
  exitOnEof: boolean;
  maxLine: number;
  separator: Separator;
  direction: Direction;
}

/** A WebSocketStream, or the reconnecting client of `--reconnect`. */
type Connection = Pick<WebSocketStream, 'url' | 'opened' | 'closed' | 'close'>;

async function run(ws: Connection, stdio: Stdio, o: RunOptions): Promise<number> {
  const { stdin, stdout, stderr } = stdio;
  const log = (line: string): void => {
    writeDiagnostic(stderr, line);
  };
  const duplex = toDuplex(ws, {
    stringsAs: o.lineInput ? 'text' : 'binary',
    textAs: o.lineInput ? 'string' : 'buffer',
  });
  // The outcome is read from ws.closed; a write that failed because the connection closed is part of it.
  duplex.on('error', () => {});
  let failure: string | null = null;

  // Network -> stdout. Reading stops while stdout is blocked (pipe() pauses the Duplex).
  const escape = o.output === 'escaped';
  // Binary mode chosen by a piped stdin prints escaped lines to a terminal: say
  // so once, and how to get the bytes themselves.
  if (escape && !o.lineInput && o.direction !== 'send') {
    log(
      'stdout is a terminal: messages are shown one a line, escaped (--binary for the raw bytes)',
    );
  }
  // Resolves once every message received was written out (or the output was abandoned).
  let output: Promise<unknown> = Promise.resolve();
  if (o.direction === 'send') {
    // -u: what arrives is read (so the peer is not held back and its Close is seen) and dropped.
    duplex.resume();
  } else if (o.once) {
    duplex.once('data', (message: string | Buffer) => {
      duplex.pause();
      stdout.write(o.output === 'raw' ? message : formatLine(message, escape, o.separator));
      ws.close({ closeCode: 1000 });
    });
  } else if (o.output !== 'raw') {
    const formatter = new LineFormatter(escape, o.separator);
    duplex.pipe(formatter).pipe(stdout, { end: false });
    // The formatter ends after the Duplex's readable side ended normally; after an error it never does.
    output = finished(duplex, { writable: false }).then(() =>
      finished(formatter, { writable: false }),
    );
  } else {
    duplex.pipe(stdout, { end: false });
    output = finished(duplex, { writable: false });
  }
  output.catch(() => {});
  const outputAbandoned = new Promise<void>((resolve) => {
    stdout.once('error', () => {
      // The reader of our output went away (EPIPE): nothing more can be delivered.
      ws.close({ closeCode: 1000 });
      resolve();
    });
  });

  // stdin -> network. stdin is not read while the Duplex is past its high-water mark.
  let input: Readable = stdin;
  if (o.lineInput && o.direction !== 'receive') {
    const splitter = new LineSplitter(o.maxLine, o.separator);
    splitter.on('error', (error: Error) => {
      failure = `stdin: ${error.message}`;
      ws.close({ closeCode: 1000 });
    });
    input = stdin.pipe(splitter);
  }
  stdin.on('error', (error: Error) => {
    failure = `stdin: ${error.message}`;
    ws.close({ closeCode: 1000 });
  });
  // -U: stdin is not read at all.
  if (o.direction !== 'receive') input.pipe(duplex, { end: o.exitOnEof });

  ws.opened.then(
    ({ protocol, extensions }) =>
      log(
        `connected to ${shownUrl(ws.url)}${protocol !== '' ? ` (subprotocol ${protocol})` : ''}${
          extensions !== '' ? ` (extensions ${extensions})` : ''
        }`,
      ),
    () => {},
  );

  // Ctrl-C: close cleanly; twice: give up.
  let interrupted = false;
  const onSignal = (): void => {
    if (interrupted) {
      log('interrupted');
      process.exit(ExitCode.INTERRUPTED);
    }
    interrupted = true;
    ws.close({ closeCode: 1000 });
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  // ssh ends a ProxyCommand with SIGHUP: close cleanly then too.
  process.on('SIGHUP', onSignal);

  let code: number;
  try {
    const info = await ws.closed;
    log(describeClose(info));
    code = exitCodeForClose(info.closeCode);
  } catch (error) {
    log(describeError(error));
    code = ExitCode.ERROR;
  }
  // The messages that arrived before the Close are still on their way to stdout.
  await Promise.race([output.catch(() => {}), outputAbandoned]);
  if (failure !== null) {
    log(failure);
    code = ExitCode.ERROR;
  }
  process.off('SIGINT', onSignal);
  process.off('SIGTERM', onSignal);
  process.off('SIGHUP', onSignal);
  input.unpipe(duplex);
  stdin.pause();
  return code;
}
