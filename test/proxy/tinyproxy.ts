/**
 * Runs Debian's tinyproxy for a test: its own config file in a temporary
 * directory, a free loopback port, and its log (LogLevel Connect) read back
 * to see which CONNECT requests really reached it. `.ci/run` installs it.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const BINARY = ['/usr/bin/tinyproxy', '/usr/sbin/tinyproxy'].find((p) => existsSync(p));

export interface Tinyproxy {
  /** `http://127.0.0.1:port` (no credentials). */
  readonly url: string;
  readonly port: number;
  /** The `CONNECT host:port` targets in the proxy's log so far, in order. */
  connects(): string[];
  stop(): Promise<void>;
}

/** A port that was free a moment ago. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect(port, '127.0.0.1');
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

/** Starts tinyproxy with these extra config lines (e.g. `BasicAuth alice s3cret`, `ConnectPort 443`). */
export async function startTinyproxy(extra: string[] = []): Promise<Tinyproxy> {
  if (BINARY === undefined) {
    throw new Error('tinyproxy is not installed (apt-get install -y tinyproxy; .ci/run does it)');
  }
  const dir = mkdtempSync(join(tmpdir(), 'wsstream-tinyproxy-'));
  const log = join(dir, 'tinyproxy.log');
  for (let attempt = 0; ; attempt++) {
    const port = await freePort();
    const config = join(dir, 'tinyproxy.conf');
    writeFileSync(
      config,
      [
        `Port ${port}`,
        'Listen 127.0.0.1',
        'Timeout 30',
        'MaxClients 100',
        'LogLevel Connect',
        `LogFile "${log}"`,
        ...extra,
        '',
      ].join('\n'),
    );
    const child: ChildProcess = spawn(BINARY, ['-d', '-c', config], { stdio: 'ignore' });
    let exited = false;
    const exit = new Promise<void>((resolve) =>
      child.once('exit', () => {
        exited = true;
        resolve();
      }),
    );
    const deadline = Date.now() + 5000;
    while (!exited && Date.now() < deadline && !(await accepts(port))) {
      await new Promise((r) => setTimeout(r, 25));
    }
    if (exited || Date.now() >= deadline) {
      child.kill('SIGKILL');
      await exit;
      if (attempt < 3) continue; // the port was taken in between: another one
      rmSync(dir, { recursive: true, force: true });
      throw new Error(
        `tinyproxy did not start: ${existsSync(log) ? readFileSync(log, 'utf8') : ''}`,
      );
    }
    return {
      url: `http://127.0.0.1:${port}`,
      port,
      connects(): string[] {
        const text = existsSync(log) ? readFileSync(log, 'utf8') : '';
        return [...text.matchAll(/Request \(file descriptor \d+\): CONNECT (\S+) HTTP/g)].map(
          (m) => m[1]!,
        );
      },
      async stop(): Promise<void> {
        if (!exited) {
          child.kill('SIGTERM');
          const timer = setTimeout(() => child.kill('SIGKILL'), 3000);
          await exit;
          clearTimeout(timer);
        }
        rmSync(dir, { recursive: true, force: true });
      },
    };
  }
}
