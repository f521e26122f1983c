/**
 * redisBroker() against a real redis-server: two hubs (two nodes) on one
 * Redis, each message once per subscriber with its type, own messages
 * ignored; Redis unreachable: publish fails fast and clearly, local delivery
 * goes on; the pending-bytes bound; a subscription Redis refuses: reported,
 * and made again until it holds.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { connect, createServer, type AddressInfo, type Socket } from 'node:net';
import { promisify } from 'node:util';
import { after, before, describe, it } from 'node:test';
import { Hub, HubError } from '../../src/hub/index.js';
import { redisBroker } from '../../src/hub/redis.js';
import { recorder, socketsTo, until } from './helpers.js';
import { freePort, HAVE_REDIS, startRedis, type RedisServer } from './redis-server.js';

const run = promisify(execFile);

describe('redisBroker()', { skip: HAVE_REDIS ? false : 'redis-server is not installed' }, () => {
  let redis: RedisServer;
  before(async () => {
    redis = await startRedis();
  });
  after(async () => {
    await redis?.stop();
  });

  it('two nodes: each subscriber gets each message once, text as text, binary as binary', async () => {
    const connected: string[] = [];
    const onBrokerEvent = (e: { type: string }): void => {
      if (e.type === 'connected') connected.push(e.type);
    };
    const a = new Hub({ broker: await redisBroker({ url: redis.url }), onBrokerEvent });
    const b = new Hub({ broker: await redisBroker({ url: redis.url }), onBrokerEvent });
    const a1 = recorder();
    const b1 = recorder();
    a.subscribe(a1, 't');
    b.subscribe(b1, 't');
    await until(() => connected.length === 4, 'both brokers connected');
    await new Promise((r) => setTimeout(r, 100)); // the SUBSCRIBE commands went out with the connection
    for (let i = 0; i < 50; i++) await a.publish('t', i % 2 === 0 ? `m${i}` : new Uint8Array([i]));
    await until(() => b1.got.length === 50, 'remote delivery');
    await new Promise((r) => setTimeout(r, 200));
    assert.equal(a1.got.length, 50, 'the publishing node ignored its own messages coming back');
    for (const got of [a1.got, b1.got]) {
      got.forEach((m, i) => assert.deepEqual(m, i % 2 === 0 ? `m${i}` : new Uint8Array([i])));
    }
    await a.close();
    await b.close();
  });

  it('leave, join and leave within one round trip to Redis: later messages arrive once, and the subscription is dropped', async () => {
    const numsub = async (): Promise<string> =>
      (
        await run('redis-cli', ['-p', String(redis.port), 'pubsub', 'numsub', 'wsstream:race'])
      ).stdout.trim();
    const connected: string[] = [];
    const onBrokerEvent = (e: { type: string }): void => {
      if (e.type === 'connected') connected.push(e.type);
    };
    const a = new Hub({ broker: await redisBroker({ url: redis.url }), onBrokerEvent });
    const b = new Hub({ broker: await redisBroker({ url: redis.url }), onBrokerEvent });
    try {
      await until(() => connected.length === 4, 'both brokers connected');
      const x = recorder();
      b.subscribe(x, 'race');
      await until(async () => (await numsub()) === 'wsstream:race\n1', 'subscribed');
      // In one turn: the last subscriber leaves, another joins and leaves again.
      b.unsubscribe(x, 'race');
      const y = recorder();
      b.subscribe(y, 'race');
      b.unsubscribe(y, 'race');
      await until(async () => (await numsub()) === 'wsstream:race\n0', 'the subscription dropped');
      const z = recorder();
      b.subscribe(z, 'race');
      await until(async () => (await numsub()) === 'wsstream:race\n1', 'subscribed again');
      for (const m of ['m1', 'm2', 'm3']) await a.publish('race', m);
      await until(() => z.got.length >= 3, 'delivery');
      await new Promise((r) => setTimeout(r, 200));
      assert.deepEqual(z.got, ['m1', 'm2', 'm3']);
    } finally {
      await a.close();
      await b.close();
    }
  });

  it('the last subscriber leaves and another joins while the SUBSCRIBE is on its way: the channel stays subscribed', async () => {
    // 20 ms each way between hub b and Redis (a TCP relay), so that the
    // leave and the join both come while the first SUBSCRIBE is pending.
    const relay = createServer((down) => {
      const up = connect(redis.port, '127.0.0.1');
      const late = (from: Socket, to: Socket): void => {
        from.on('data', (d: Buffer) => setTimeout(() => to.write(d), 20));
      };
      late(down, up);
      late(up, down);
      for (const [x, y] of [
        [down, up],
        [up, down],
      ] as const) {
        x.on('error', () => y.destroy());
        x.on('close', () => y.destroy());
      }
    });
    await new Promise<void>((resolve) => relay.listen(0, '127.0.0.1', resolve));
    const connected: string[] = [];
    const onBrokerEvent = (e: { type: string }): void => {
      if (e.type === 'connected') connected.push(e.type);
    };
    const relayed = `redis://127.0.0.1:${(relay.address() as AddressInfo).port}`;
    const a = new Hub({ broker: await redisBroker({ url: redis.url }), onBrokerEvent });
    const b = new Hub({ broker: await redisBroker({ url: relayed }), onBrokerEvent });
    try {
      await until(() => connected.length === 4, 'both brokers connected');
      const first = recorder();
      const second = recorder();
      b.subscribe(first, 'relay');
      await new Promise((r) => setTimeout(r, 5));
      b.unsubscribe(first, 'relay');
      b.subscribe(second, 'relay');
      const numsub = async (): Promise<string> =>
        (
          await run('redis-cli', ['-p', String(redis.port), 'pubsub', 'numsub', 'wsstream:relay'])
        ).stdout.trim();
      await until(async () => (await numsub()) === 'wsstream:relay\n1', 'subscribed');
      // Every command b sent has been answered by now (200 ms of round trips).
      await new Promise((r) => setTimeout(r, 200));
      assert.equal(await numsub(), 'wsstream:relay\n1', 'still subscribed');
      await a.publish('relay', 'hello');
      await until(() => second.got.length === 1, 'delivered to the subscriber that joined');
      assert.deepEqual(second.got, ['hello']);
      assert.deepEqual(first.got, []);
    } finally {
      await a.close();
      await b.close();
      relay.close();
    }
  });

  it('joins and leaves while Redis is away queue nothing: once it is back it gets at most one command per topic', async () => {
    const own = await startRedis();
    const events: string[] = [];
    const hub = new Hub({
      broker: await redisBroker({ url: own.url, reconnectDelay: 50, maxReconnectDelay: 200 }),
      onBrokerEvent: (e) => events.push(`${e.type} ${e.message}`),
    });
    const stats = async (): Promise<number> => {
      const { stdout } = await run('redis-cli', ['-p', String(own.port), 'info', 'commandstats']);
      let calls = 0;
      for (const m of stdout.matchAll(/cmdstat_(?:un)?subscribe:calls=(\d+)/g))
        calls += Number(m[1]);
      return calls;
    };
    try {
      const kept = recorder();
      hub.subscribe(kept, 'kept');
      await until(async () => (await stats()) === 1, 'subscribed');
      await own.kill();
      await until(
        () => events.some((e) => e.startsWith('disconnected redis subscriber')),
        'the subscriber saw Redis go',
      );
      // 20,000 connections join one of 100 topics and leave while Redis is away.
      for (let i = 0; i < 20_000; i++) {
        const c = recorder();
        hub.subscribe(c, `user:${i % 100}`);
        hub.unsubscribe(c);
      }
      await own.restart();
      await until(async () => {
        const { stdout } = await run('redis-cli', ['-p', String(own.port), 'pubsub', 'channels']);
        return stdout.trim() === 'wsstream:kept';
      }, 'the subscription that was kept is restored');
      await new Promise((r) => setTimeout(r, 300));
      // The restored SUBSCRIBE, and no more than one command for each of the 100 topics.
      const calls = await stats();
      assert.ok(calls <= 101, `${calls} (un)subscriptions after the outage`);
      const { stdout } = await run('redis-cli', ['-p', String(own.port), 'pubsub', 'channels']);
      assert.equal(stdout.trim(), 'wsstream:kept');
    } finally {
      await hub.close();
      await own.stop();
    }
  });

  it('Redis killed and restarted: disconnected, reconnecting, connected again, in that order', async () => {
    const own = await startRedis();
    const events: string[] = [];
    const hub = new Hub({
      broker: await redisBroker({ url: own.url, reconnectDelay: 50, maxReconnectDelay: 200 }),
      onBrokerEvent: (e) => events.push(`${e.type} ${e.message.split(':')[0]}`),
    });
    try {
      hub.subscribe(recorder(), 't');
      await until(() => events.filter((e) => e.startsWith('connected')).length === 2, 'connected');
      await own.kill();
      await until(
        () => events.filter((e) => e.startsWith('disconnected')).length === 2,
        'both connections told as lost',
      );
      await own.restart();
      await until(
        () => events.filter((e) => e.startsWith('connected')).length === 4,
        'connected again',
      );
      for (const role of ['redis publisher', 'redis subscriber']) {
        const mine = events.filter((e) => e.endsWith(role)).map((e) => e.split(' ')[0]);
        const lost = mine.indexOf('disconnected');
        assert.ok(lost > 0 && mine[lost - 1] === 'connected', `${role}: ${mine.join(' ')}`);
        assert.equal(mine[lost + 1], 'reconnecting', `${role}: ${mine.join(' ')}`);
        assert.equal(mine.at(-1), 'connected', `${role}: ${mine.join(' ')}`);
        assert.equal(mine.filter((e) => e === 'disconnected').length, 1, 'told once per outage');
      }
    } finally {
      await hub.close();
      await own.stop();
    }
  });

  it('closed while its connections are being made: none of them outlives it', async () => {
    const sockets = (): number => socketsTo([redis.port]);
    const before = sockets();
    for (let delay = 0; delay < 20; delay++) {
      const hub = new Hub({ broker: await redisBroker({ url: redis.url }) });
      hub.subscribe(recorder(), 't');
      if (delay % 4 > 0) await new Promise((r) => setTimeout(r, delay % 4));
      await hub.close();
    }
    await new Promise((r) => setTimeout(r, 500));
    assert.equal(sockets(), before, 'no connection to Redis is left open');
  });

  it('a Redis that stalls with its connection open: publish rejects after publishTimeout, and works again once it answers', async () => {
    const stalled = await startRedis();
    const connected: string[] = [];
    const hub = new Hub({
      broker: await redisBroker({ url: stalled.url, publishTimeout: 300 }),
      onBrokerEvent: (e) => {
        if (e.type === 'connected') connected.push(e.message);
      },
    });
    try {
      await until(() => connected.length === 2, 'both connections ready');
      await hub.publish('t', 'before');
      stalled.freeze();
      const started = performance.now();
      await assert.rejects(hub.publish('t', 'during'), {
        name: 'HubError',
        code: 'BROKER_UNAVAILABLE',
        message: /did not acknowledge the publish within 300 ms/,
      });
      const waited = performance.now() - started;
      assert.ok(waited >= 250 && waited < 5000, `rejected after ${Math.round(waited)} ms`);
      stalled.thaw();
      await hub.publish('t', 'after');
    } finally {
      stalled.thaw();
      await hub.close();
      await stalled.stop();
    }
    await assert.rejects(redisBroker({ url: redis.url, publishTimeout: 0 }), RangeError);
  });

  it('Redis unreachable: publish rejects at once with BROKER_UNAVAILABLE; local subscribers still get it', async () => {
    const events: string[] = [];
    const hub = new Hub({
      broker: await redisBroker({
        url: `redis://127.0.0.1:${await freePort()}`,
        reconnectDelay: 20,
        maxReconnectDelay: 50,
      }),
      onBrokerEvent: (e) => events.push(e.type),
    });
    const local = recorder();
    hub.subscribe(local, 't');
    await assert.rejects(
      hub.publish('t', 'hello'),
      (e: unknown) =>
        e instanceof HubError && e.code === 'BROKER_UNAVAILABLE' && /not connected/.test(e.message),
    );
    await until(() => local.got.length === 1, 'local delivery');
    await until(() => events.includes('reconnecting'), 'reconnect attempts');
    await hub.close();
  });

  it('maxPendingBytes: publishes past the bound reject with BROKER_BACKLOG', async () => {
    let ready = false;
    const hub = new Hub({
      broker: await redisBroker({ url: redis.url, maxPendingBytes: 1000 }),
      onBrokerEvent: (e) => {
        if (e.type === 'connected') ready = true;
      },
    });
    await until(() => ready, 'connected');
    await new Promise((r) => setTimeout(r, 100));
    const results = await Promise.allSettled(
      [...Array(20)].map(() => hub.publish('t', new Uint8Array(200))),
    );
    const backlog = results.filter(
      (r) => r.status === 'rejected' && (r.reason as HubError).code === 'BROKER_BACKLOG',
    );
    assert.ok(backlog.length >= 10, `${backlog.length} rejected`);
    assert.ok(results.some((r) => r.status === 'fulfilled'));
    await hub.close();
  });

  it('a subscription Redis refuses is reported and made again until it holds', async () => {
    const cli = async (...args: string[]): Promise<string> =>
      (await run('redis-cli', ['-p', String(redis.port), ...args])).stdout.trim();
    await cli('acl', 'setuser', 'hub', 'on', '>pw', '~*', '+@all', 'resetchannels');
    const hubs: Hub[] = [];
    try {
      const errors: string[] = [];
      const a = new Hub({
        broker: await redisBroker({
          url: `redis://hub:pw@127.0.0.1:${redis.port}`,
          reconnectDelay: 100,
          maxReconnectDelay: 200,
        }),
        onBrokerEvent: (e) => {
          if (e.type === 'error') errors.push(e.message);
        },
      });
      const b = new Hub({ broker: await redisBroker({ url: redis.url }) });
      hubs.push(a, b);
      const got = recorder();
      a.subscribe(got, 'acl');
      await until(() => errors.length >= 2, 'the refusals reported, attempt after attempt');
      assert.match(errors[0]!, /subscribe acl: .*NOPERM/);
      assert.equal(await cli('pubsub', 'numsub', 'wsstream:acl'), 'wsstream:acl\n0');
      // The topic's last subscriber leaves and one comes back, still refused: the new
      // subscription gets attempts of its own (the one the topic had waiting is cancelled).
      a.unsubscribe(got);
      a.subscribe(got, 'acl');
      const before = errors.length;
      await until(() => errors.length >= before + 2, 'the new subscription retried');
      await cli('acl', 'setuser', 'hub', 'allchannels');
      await until(
        async () => (await cli('pubsub', 'numsub', 'wsstream:acl')) === 'wsstream:acl\n1',
        'subscribed once Redis allows it',
      );
      await b.publish('acl', 'hello');
      await until(() => got.got.includes('hello'), 'delivery');
      // Gone with its last subscriber: no attempt is left behind.
      const refused = errors.length;
      a.unsubscribe(got);
      await until(
        async () => (await cli('pubsub', 'numsub', 'wsstream:acl')) === 'wsstream:acl\n0',
        'unsubscribed',
      );
      assert.equal(errors.length, refused);
    } finally {
      for (const h of hubs) await h.close();
      await cli('acl', 'deluser', 'hub');
    }
  });
});
