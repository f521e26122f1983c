/**
 * A real Redis Cluster (Debian's redis-server) for the hub tests: three
 * masters without replicas on free loopback ports, their cluster config in a
 * temporary directory, joined with `redis-cli --cluster create`. `kill()`
 * and `restart()` simulate an outage of every node (the restarted nodes read
 * their config file back, so the slots stay where they were); `stop()` ends
 * them and removes the directory.
 */
import { type ChildProcess, execFile } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { freePort, launchRedis } from './redis-server.js';

const run = promisify(execFile);

export interface RedisCluster {
  /** The masters' client ports. */
  readonly ports: readonly number[];
  /** `redis://127.0.0.1:PORT` of each master. */
  readonly urls: readonly string[];
  /** Runs a command on one node with redis-cli; its output, trimmed. */
  cli(port: number, ...args: string[]): Promise<string>;
  /** The port of the master that owns `channel`'s hash slot. */
  ownerOf(channel: string): Promise<number>;
  /** SIGKILL on every node. */
  kill(): Promise<void>;
  /** Starts every node again on its ports, and waits for `cluster_state:ok`. */
  restart(): Promise<void>;
  stop(): Promise<void>;
}

function launch(dir: string, port: number, busPort: number): Promise<ChildProcess> {
  return launchRedis([
      '--port', String(port),
      '--bind', '127.0.0.1',
      '--cluster-enabled', 'yes',
      '--cluster-port', String(busPort),
      '--cluster-config-file', join(dir, `nodes-${port}.conf`),
      '--cluster-node-timeout', '2000',
      '--dir', dir,
      '--save', '',
      '--appendonly', 'no',
    ]); // prettier-ignore
}

/** Distinct free ports (the kernel picks them; freed before redis-server binds them). */
async function freePorts(count: number): Promise<number[]> {
  const ports = new Set<number>();
  while (ports.size < count) ports.add(await freePort());
  return [...ports];
}

export async function startRedisCluster(): Promise<RedisCluster> {
  const dir = await mkdtemp(join(tmpdir(), 'wsstream-redis-cluster-'));
  // Client ports, then the cluster bus ports (the default, port + 10000, may not be free or valid).
  const all = await freePorts(6);
  const ports = all.slice(0, 3);
  const busPorts = all.slice(3);
  let children: ChildProcess[] = [];
  const cli = async (port: number, ...args: string[]): Promise<string> =>
    (await run('redis-cli', ['-h', '127.0.0.1', '-p', String(port), ...args])).stdout.trim();
  const waitOk = async (): Promise<void> => {
    const end = Date.now() + 15_000;
    for (;;) {
      const states = await Promise.all(ports.map((p) => cli(p, 'cluster', 'info')));
      if (states.every((s) => s.includes('cluster_state:ok'))) return;
      if (Date.now() > end) throw new Error(`the cluster did not come up: ${states.join('\n')}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  };
  const startAll = async (): Promise<void> => {
    children = await Promise.all(ports.map((p, i) => launch(dir, p, busPorts[i]!)));
  };
  const kill = async (): Promise<void> => {
    const list = children;
    children = [];
    await Promise.all(
      list.map(async (c) => {
        if (c.exitCode !== null || c.signalCode !== null) return;
        c.kill('SIGKILL');
        await once(c, 'exit');
      }),
    );
  };
  try {
    await startAll();
    await run('redis-cli', [
      '--cluster', 'create',
      ...ports.map((p) => `127.0.0.1:${p}`),
      '--cluster-replicas', '0',
      '--cluster-yes',
    ]); // prettier-ignore
    await waitOk();
  } catch (error) {
    await kill();
    await rm(dir, { recursive: true, force: true });
    throw error;
  }
  return {
    ports,
    urls: ports.map((p) => `redis://127.0.0.1:${p}`),
    cli,
    async ownerOf(channel) {
      const slot = Number(await cli(ports[0]!, 'cluster', 'keyslot', channel));
      for (const port of ports) {
        const nodes = await cli(port, 'cluster', 'nodes');
        const me = nodes.split('\n').find((line) => line.includes('myself'))!;
        for (const range of me.split(' ').slice(8)) {
          const [from, to] = range.split('-').map(Number);
          if (slot >= from! && slot <= (to ?? from)!) return port;
        }
      }
      throw new Error(`no master owns slot ${slot}`);
    },
    kill,
    async restart() {
      await kill();
      await startAll();
      await waitOk();
    },
    async stop() {
      await kill();
      await rm(dir, { recursive: true, force: true });
    },
  };
}
