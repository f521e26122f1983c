/**
 * `serve --broadcast --redis-cluster`: two server processes joined by a real
 * three-master Redis Cluster (started here), each given a different node;
 * `ws` clients on each. A room's messages reach the clients of the other
 * process once, with their type, over one sharded subscription per room per
 * process.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ensureBuilt, serveCli, type Served } from '../cli/helpers.js';
import { startRedisCluster, type RedisCluster } from './redis-cluster-server.js';
import { until, wsClient as client, type WsClient as Client } from './helpers.js';
import { HAVE_REDIS } from './redis-server.js';

describe(
  'serve --broadcast --redis-cluster: two processes',
  { skip: HAVE_REDIS ? false : 'redis-server is not installed' },
  () => {
    let cluster: RedisCluster;
    let servers: Served[] = [];
    before(async () => {
      ensureBuilt();
      cluster = await startRedisCluster();
    });
    after(async () => {
      for (const s of servers) await s.stop();
      await cluster?.stop();
    });

    it('a room spans both processes, each message once, types intact', async () => {
      servers = await Promise.all([
        serveCli(['--broadcast', '--redis-cluster', cluster.urls[0]!]),
        serveCli(['--broadcast', '--redis-cluster', `${cluster.urls[1]!},${cluster.urls[2]!}`]),
      ]);
      await until(
        () => servers.every((s) => /redis cluster subscriber: slot map loaded/.test(s.log())),
        'the servers loaded the slot map',
      );
      const [s1, s2] = servers as [Served, Served];
      const a = await client(`${s1.url}room/a`);
      const a2 = await client(`${s1.url}room/a`);
      const b = await client(`${s2.url}room/a`);

      const channel = 'wsstream:/room/a';
      const owner = await cluster.ownerOf(channel);
      await until(
        async () => (await cluster.cli(owner, 'pubsub', 'shardnumsub', channel)).endsWith('\n2'),
        'one sharded subscription per process',
      );

      const COUNT = 50;
      for (let i = 0; i < COUNT; i++) {
        a.ws.send(i % 2 === 0 ? `a${i}` : Buffer.from(`a${i}`), { binary: i % 2 === 1 });
        b.ws.send(i % 2 === 0 ? `b${i}` : Buffer.from(`b${i}`), { binary: i % 2 === 1 });
      }
      await until(
        () => a.got.length === COUNT && b.got.length === COUNT && a2.got.length === 2 * COUNT,
        'delivery',
      );
      await new Promise((r) => setTimeout(r, 200));
      const expected = (from: string): Client['got'] =>
        [...Array(COUNT).keys()].map((i) => ({ text: `${from}${i}`, binary: i % 2 === 1 }));
      assert.deepEqual(a.got, expected('b'), 'a got each of b once, in order');
      assert.deepEqual(b.got, expected('a'), 'b got each of a once, in order');
      assert.equal(a2.got.length, 2 * COUNT, 'a2 got each of a and b once');
      for (const s of servers) assert.doesNotMatch(s.log(), /Unhandled|uncaught/i);

      for (const c of [a, a2, b]) c.ws.close();
      for (const s of servers) assert.equal(await s.stop(), 0);
      servers = [];
    });
  },
);
