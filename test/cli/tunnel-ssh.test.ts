/**
 * The real thing: OpenSSH's client and server through a tunnel, with
 * `ssh -o ProxyCommand='wsstream connect --binary ws://...'` and
 * `serve --forward` in front of an sshd started for the test (its own
 * config, host key and authorized key in a temporary directory; loopback).
 * Needs Debian's openssh-client and openssh-server (.ci/run installs them).
 */
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { userInfo, tmpdir } from 'node:os';
import { join } from 'node:path';
import { it } from 'node:test';
import { BIN, ensureBuilt, serveCli } from './helpers.js';
import { closedPort, dial, MiB, sleep } from './tunnel-helpers.js';

const SSHD = '/usr/sbin/sshd';
const SSH = '/usr/bin/ssh';
const missing = !existsSync(SSHD) || !existsSync(SSH);

it(
  'ssh -o ProxyCommand="wsstream connect --binary": 8 MiB through remote cat, byte-identical',
  { skip: missing ? `needs ${SSHD} and ${SSH} (apt-get install openssh-server)` : false },
  async (t) => {
    ensureBuilt();
    const dir = mkdtempSync(join(tmpdir(), 'wsstream-ssh-'));
    const port = await closedPort();
    execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', join(dir, 'host')]);
    execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', join(dir, 'client')]);
    execFileSync('cp', [join(dir, 'client.pub'), join(dir, 'authorized_keys')]);
    writeFileSync(
      join(dir, 'sshd_config'),
      [
        `Port ${port}`,
        'ListenAddress 127.0.0.1',
        `HostKey ${join(dir, 'host')}`,
        `AuthorizedKeysFile ${join(dir, 'authorized_keys')}`,
        `PidFile ${join(dir, 'sshd.pid')}`,
        'StrictModes no',
        'UsePAM no',
        'PasswordAuthentication no',
        'KbdInteractiveAuthentication no',
        'PermitRootLogin prohibit-password',
        '',
      ].join('\n'),
    );
    // sshd wants its privilege separation directory even in the foreground.
    if (process.getuid?.() === 0) mkdirSync('/run/sshd', { recursive: true });
    const sshd = spawn(SSHD, ['-D', '-e', '-f', join(dir, 'sshd_config')], {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let sshdLog = '';
    sshd.stderr.on('data', (c: Buffer) => (sshdLog += c.toString()));
    const server = await serveCli(['--forward', `tcp:127.0.0.1:${port}`]);
    try {
      // sshd is up once it accepts TCP.
      for (let i = 0; ; i++) {
        try {
          (await dial(port)).destroy();
          break;
        } catch (error) {
          if (i > 100) throw new Error(`sshd did not start: ${sshdLog}`, { cause: error });
          await sleep(50);
        }
      }
      const data = randomBytes(8 * MiB);
      const started = performance.now();
      const ssh = spawn(
        SSH,
        [
          '-F',
          '/dev/null',
          '-i',
          join(dir, 'client'),
          '-o',
          'BatchMode=yes',
          '-o',
          'StrictHostKeyChecking=no',
          '-o',
          'UserKnownHostsFile=/dev/null',
          '-o',
          'LogLevel=ERROR',
          '-o',
          `ProxyCommand=${process.execPath} ${BIN} connect --binary ${server.url}`,
          '-l',
          userInfo().username,
          '127.0.0.1',
          'cat',
        ],
        { stdio: ['pipe', 'pipe', 'pipe'] },
      );
      const hash = createHash('sha256');
      let received = 0;
      ssh.stdout.on('data', (c: Buffer) => {
        hash.update(c);
        received += c.length;
      });
      let stderr = '';
      ssh.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
      ssh.stdin.end(data);
      const [code] = (await once(ssh, 'close')) as [number | null];
      const seconds = (performance.now() - started) / 1000;
      t.diagnostic(`8 MiB each way through ssh and the tunnel in ${seconds.toFixed(1)} s`);
      assert.equal(code, 0, `ssh: ${stderr}\nsshd: ${sshdLog}\nserve: ${server.log()}`);
      assert.equal(received, data.length);
      assert.equal(hash.digest('hex'), createHash('sha256').update(data).digest('hex'));
      // ssh ends its ProxyCommand with SIGHUP: the tunnel closes cleanly.
      for (let i = 0; i < 100 && !/closed: code 1000/.test(server.log()); i++) await sleep(50);
      assert.match(server.log(), /- \S+ closed: code 1000/);
    } finally {
      assert.equal(await server.stop(), 0);
      sshd.kill('SIGTERM');
      await once(sshd, 'close');
      rmSync(dir, { recursive: true, force: true });
    }
  },
);
