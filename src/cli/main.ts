#!/usr/bin/env node
/**
 * The `wsstream` command: `connect`, `serve`, `demo`. Exit codes: 0 closed
 * normally, 1 connection or protocol error, 2 usage error.
 */
import { readFileSync } from 'node:fs';
import { connectCommand, type Stdio } from './connect.js';
import { UsageError } from './args.js';
import { demoCommand } from './demo.js';
import { describeError, ExitCode } from './exit-codes.js';
import { MAIN_HELP } from './help.js';
import { serveCommand } from './serve.js';

// The WebSocketStream connector for Node is installed by the package's entry point.
import '../index.js';
import { writeDiagnostic } from './escape.js';

const COMMANDS: Record<string, (argv: string[], stdio: Stdio) => Promise<number>> = {
  connect: connectCommand,
  serve: serveCommand,
  demo: demoCommand,
};

function version(): string {
  try {
    const pkg = JSON.parse(
      readFileSync(new URL('../../package.json', import.meta.url), 'utf8'),
    ) as {
      version?: string;
    };
    return pkg.version ?? 'unknown';
  } catch {
    return 'unknown';
  }
}

/** Runs the command line `argv` (without node and the script); resolves with the exit code. */
export async function main(argv: string[], stdio: Stdio): Promise<number> {
  const [name, ...rest] = argv;
  try {
    if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
      (name === undefined ? stdio.stderr : stdio.stdout).write(MAIN_HELP);
      return name === undefined ? ExitCode.USAGE : ExitCode.OK;
    }
    if (name === '--version' || name === '-V') {
      stdio.stdout.write(`${version()}\n`);
      return ExitCode.OK;
    }
    const command = COMMANDS[name];
    if (command === undefined) throw new UsageError(`unknown command "${name}"`);
    return await command(rest, stdio);
  } catch (error) {
    if (error instanceof UsageError) {
      stdio.stderr.write(
        `wsstream: ${error.message}\nTry "wsstream ${name !== undefined && name in COMMANDS ? `${name} ` : ''}--help".\n`,
      );
      return ExitCode.USAGE;
    }
    writeDiagnostic(stdio.stderr, describeError(error));
    return ExitCode.ERROR;
  }
}

// stderr carries diagnostics only: if its reader has gone away (EPIPE: a log pipe that
// died, `2>&1 | head`), they are lost, but the command must carry on. Unhandled, the
// error would kill `serve` and `--listen` on their next log line, dropping every
// connection and leaving the --exec commands (their own process groups) running.
process.stderr.on('error', () => {});

const code = await main(process.argv.slice(2), {
  stdin: process.stdin,
  stdout: process.stdout,
  stderr: process.stderr,
});
// Exit once what we wrote has left (stdout may be a pipe that is still draining).
if (process.stdout.writableLength > 0) {
  process.stdout.once('drain', () => process.exit(code));
  process.stdout.once('error', () => process.exit(code));
} else {
  process.exit(code);
}
