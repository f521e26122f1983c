/**
 * `serve --broadcast --redis`: two server processes joined by a real
 * redis-server (started here on a free port), `ws` clients on each. Every
 * message published anywhere reaches every other subscriber of its topic
 * once, in per-publisher order, with its type; Redis killed and restarted
 * mid-run: the servers stay up, keep relaying locally, and join again.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createClient } from 'redis';
import { ensureBuilt, serveCli, type Served } from '../cli/helpers.js';
import { until, wsClient as client, type WsClient as Client } from './helpers.js';
import { HAVE_REDIS, startRedis, type RedisServer } from './redis-server.js';

/** Sends `count` messages from each client, even ones as text and odd ones as binary, tagged "<name>:<round>:<i>". */
function sendAll(clients: Client[], round: string, count: number): void {
  for (let i = 0; i < count; i++) {
    for (const c of clients) {
      const text = `${c.name}:${round}:${i}`;
      c.ws.send(i % 2 === 0 ? text : Buffer.from(text), { binary: i % 2 === 1 });
    }
  }
}

/** Checks that `c` got exactly the messages of `from` for `round`, once each, in each sender's order, types intact. */
function checkRound(c: Client, from: Client[], round: string, count: number): void {
  const mine = c.got.filter((m) => m.text.split(':')[1] === round);
  const bySender = new Map<string, number[]>();
  for (const m of mine) {
    const [sender, , index] = m.text.split(':');
    const i = Number(index);
    assert.equal(m.binary, i % 2 === 1, `${m.text} kept its type`);
    const list = bySender.get(sender!) ?? [];
    list.push(i);
    bySender.set(sender!, list);
  }
  const expected = [...Array(count).keys()];
  assert.deepEqual(
    [...bySender.keys()].sort(),
    from.map((f) => f.name).sort(),
    `${c.name}: senders`,
  );
  for (const [sender, list] of bySender)
    assert.deepEqual(list, expected, `${c.name} from ${sender}`);
}

describe(
  'serve --broadcast --redis: two processes',
  { skip: HAVE_REDIS ? false : 'redis-server is not installed' },
  () => {
    let redis: RedisServer;
    let servers: Served[] = [];
    before(async () => {
      ensureBuilt();
      redis = await startRedis();
    });
    after(async () => {
      for (const s of servers) await s.stop();
      await redis?.stop();
    });

    it('fans out across processes once, in order, types intact; survives a Redis restart', async () => {
      servers = await Promise.all([
        serveCli(['--broadcast', '--redis', redis.url]),
        serveCli(['--broadcast', '--redis', redis.url]),
      ]);
      await until(
        () =>
          servers.every(
            (s) =>
              /redis subscriber: connected/.test(s.log()) &&
              /redis publisher: connected/.test(s.log()),
          ),
        'the servers connected to Redis',
      );
      const [s1, s2] = servers as [Served, Served];
      const room = [
        await client(`${s1.url}room/a`, 'a1'),
        await client(`${s1.url}room/a`, 'a2'),
        await client(`${s2.url}room/a`, 'b1'),
        await client(`${s2.url}room/a`, 'b2'),
      ];
      const other = [await client(`${s1.url}room/b`, 'o1'), await client(`${s2.url}room/b`, 'o2')];

      // One Redis subscription per topic per process, however many clients.
      const probe = createClient({ url: redis.url });
      probe.on('error', () => {});
      await probe.connect();
      await until(async () => {
        const counts = await probe.pubSubNumSub(['wsstream:/room/a', 'wsstream:/room/b']);
        return counts['wsstream:/room/a'] === 2 && counts['wsstream:/room/b'] === 2;
      }, 'two subscriptions per topic');
      probe.destroy();

      const COUNT = 200;
      sendAll(room, 'r1', COUNT);
      await until(() => room.every((c) => c.got.length === 3 * COUNT), 'round 1');
      for (const c of room)
        checkRound(
          c,
          room.filter((x) => x !== c),
          'r1',
          COUNT,
        );
      assert.ok(
        other.every((c) => c.got.length === 0),
        '/room/b got nothing of /room/a',
      );

      // Redis goes away: each process keeps relaying between its own clients, and stays up.
      await redis.kill();
      await until(
        () => servers.every((s) => /redis publisher: .*retrying in \d+ ms/.test(s.log())),
        'the servers noticed',
      );
      const before2 = room.map((c) => c.got.length);
      sendAll(room, 'r2', 20);
      await until(
        () => room.every((c, i) => c.got.length === before2[i]! + 20),
        'local delivery during the outage',
      );
      for (const c of room) {
        const local = room.filter((x) => x !== c && x.name[0] === c.name[0]);
        checkRound(c, local, 'r2', 20);
      }
      for (const s of servers) assert.equal(s.child.exitCode, null, 'the server is still running');

      // Redis is back: the hubs reconnect, subscribe again, and fan out across processes again.
      await redis.restart();
      const probe2 = createClient({ url: redis.url });
      probe2.on('error', () => {});
      await probe2.connect();
      await until(async () => {
        const counts = await probe2.pubSubNumSub('wsstream:/room/a');
        return counts['wsstream:/room/a'] === 2;
      }, 'subscriptions restored');
      probe2.destroy();
      await until(
        () =>
          servers.every((s) => (s.log().match(/redis publisher: connected/g) ?? []).length === 2),
        'publishers reconnected',
      );
      const before3 = room.map((c) => c.got.length);
      sendAll(room, 'r3', COUNT);
      await until(() => room.every((c, i) => c.got.length === before3[i]! + 3 * COUNT), 'round 3');
      for (const c of room)
        checkRound(
          c,
          room.filter((x) => x !== c),
          'r3',
          COUNT,
        );
      assert.match(
        s1.log(),
        /messages reached this process's clients only while the broker was away|not relayed to other processes/,
      );
      for (const s of servers) assert.doesNotMatch(s.log(), /Unhandled|uncaught/i);

      for (const c of [...room, ...other]) c.ws.close();
      for (const s of servers) assert.equal(await s.stop(), 0);
      servers = [];
    });
  },
);
