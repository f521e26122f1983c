/**
 * redisClusterBroker() against a real Redis Cluster (three masters started
 * here): two hubs connected through different nodes exchange text and binary
 * messages on topics owned by different masters, each once, own messages
 * not twice; one sharded subscription per topic per process, gone with the
 * last local subscriber; a topic's slot moved to another master: the
 * subscriptions follow it (Redis drops them, node-redis subscribes again on
 * the new owner) and a publish answered MOVED is sent again; the cluster
 * unreachable or killed: publish fails
 * fast with BROKER_UNAVAILABLE, and the brokers join again after a restart;
 * a moved channel the new owner refuses (node-redis subscribing it after a
 * reconnect answered MOVED, or moving its listeners at the old owner's
 * SUNSUBSCRIBE): reported and retried until it holds, never an unhandled
 * rejection; the pending-bytes bound; invalid rootNodes.
 */
import assert from 'node:assert/strict';
import { after, afterEach, before, describe, it } from 'node:test';
import { Hub, HubError, type HubOptions } from '../../src/hub/index.js';
import { redisClusterBroker } from '../../src/hub/redis.js';
import { startRedisCluster, type RedisCluster } from './redis-cluster-server.js';
import { recorder, socketsTo, until } from './helpers.js';
import { freePort, HAVE_REDIS } from './redis-server.js';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

describe(
  'redisClusterBroker()',
  { skip: HAVE_REDIS ? false : 'redis-server is not installed' },
  () => {
    let cluster: RedisCluster;
    /** One topic per master: topics[i] is owned by cluster.ports[i]. */
    const topics: string[] = [];
    before(async () => {
      cluster = await startRedisCluster();
      const byOwner = new Map<number, string>();
      for (let i = 0; byOwner.size < 3; i++) {
        const owner = await cluster.ownerOf(`wsstream:/room/${i}`);
        if (!byOwner.has(owner)) byOwner.set(owner, `/room/${i}`);
      }
      topics.push(...cluster.ports.map((p) => byOwner.get(p)!));
    });
    /** The hubs of the running test, closed after it even when it fails (their brokers would retry forever). */
    const hubs: Hub[] = [];
    const makeHub = (options: HubOptions): Hub => {
      const h = new Hub(options);
      hubs.push(h);
      return h;
    };
    afterEach(async () => {
      for (const h of hubs.splice(0)) await h.close();
    });
    after(async () => {
      await cluster?.stop();
    });

    /** Subscribers of `topic`'s sharded channel on the master that owns it. */
    async function shardNumSub(topic: string): Promise<number> {
      const channel = `wsstream:${topic}`;
      const out = await cluster.cli(
        await cluster.ownerOf(channel),
        'pubsub',
        'shardnumsub',
        channel,
      );
      return Number(out.split('\n').at(-1));
    }

    it('two nodes through different cluster nodes: topics on every master, each message once, types intact', async () => {
      assert.equal(new Set(topics).size, 3);
      const a = makeHub({ broker: await redisClusterBroker({ rootNodes: [cluster.urls[0]!] }) });
      const b = makeHub({ broker: await redisClusterBroker({ rootNodes: [cluster.urls[1]!] }) });
      const subs = topics.map(() => ({ a: recorder(), b: recorder() }));
      topics.forEach((t, i) => {
        a.subscribe(subs[i]!.a, t);
        b.subscribe(subs[i]!.b, t);
      });
      for (const t of topics) await until(async () => (await shardNumSub(t)) === 2, `2 on ${t}`);

      const COUNT = 40;
      const message = (from: string, i: number): string | Uint8Array =>
        i % 2 === 0 ? `${from}${i}` : new TextEncoder().encode(`${from}${i}`);
      const sends: Array<Promise<void>> = [];
      for (let i = 0; i < COUNT; i++) {
        for (const t of topics) {
          sends.push(a.publish(t, message('a', i)), b.publish(t, message('b', i)));
        }
      }
      await Promise.all(sends);
      await until(
        () => subs.every((s) => s.a.got.length === 2 * COUNT && s.b.got.length === 2 * COUNT),
        'delivery on every topic',
      );
      await sleep(200); // a duplicate (an own message coming back) would arrive by now
      for (const s of subs) {
        for (const r of [s.a, s.b]) {
          assert.equal(r.got.length, 2 * COUNT, 'each message once, own messages not twice');
          for (const from of ['a', 'b']) {
            const mine = r.got.filter((m) =>
              (typeof m === 'string' ? m : new TextDecoder().decode(m)).startsWith(from),
            );
            assert.deepEqual(
              mine,
              [...Array(COUNT).keys()].map((i) => message(from, i)),
              `from ${from}: in order, text as text, binary as binary`,
            );
          }
        }
      }
      await a.close();
      await b.close();
      for (const t of topics) await until(async () => (await shardNumSub(t)) === 0, 'closed');
    });

    it('closed while its connections and subscriptions are under way: none of them outlives it', async () => {
      const sockets = (): number => socketsTo(cluster.ports);
      const before = sockets();
      // Closed 0 to 19 ms after the start: while the slot map loads, and while the
      // sharded subscriptions' node connections are being made.
      for (let delay = 0; delay < 20; delay++) {
        const hub = new Hub({ broker: await redisClusterBroker({ rootNodes: cluster.urls }) });
        hub.subscribe(recorder(), topics[0]!);
        hub.subscribe(recorder(), topics[1]!);
        await sleep(delay);
        await hub.close();
      }
      await sleep(500);
      assert.equal(sockets(), before, 'no connection to a node is left open');
    });

    it('one subscription per topic per process, gone when its last local subscriber leaves', async () => {
      const hub = makeHub({ broker: await redisClusterBroker({ rootNodes: cluster.urls }) });
      const [t] = topics as [string];
      const r1 = recorder();
      const r2 = recorder();
      hub.subscribe(r1, t);
      hub.subscribe(r2, t);
      await until(async () => (await shardNumSub(t)) === 1, 'subscribed');
      hub.unsubscribe(r1, t);
      await sleep(200);
      assert.equal(await shardNumSub(t), 1, 'one local subscriber left: still subscribed');
      hub.unsubscribe(r2, t);
      await until(async () => (await shardNumSub(t)) === 0, 'unsubscribed');
      await hub.close();
    });

    it('cluster unreachable at start: publish rejects at once with BROKER_UNAVAILABLE; local delivery goes on', async () => {
      const events: string[] = [];
      const hub = makeHub({
        broker: await redisClusterBroker({
          rootNodes: [`redis://127.0.0.1:${await freePort()}`],
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
          e instanceof HubError &&
          e.code === 'BROKER_UNAVAILABLE' &&
          /not connected/.test(e.message),
      );
      await until(() => local.got.length === 1, 'local delivery');
      await until(() => events.filter((e) => e === 'reconnecting').length >= 2, 'retries');
      await hub.close();
    });

    it('maxPendingBytes: publishes past the bound reject with BROKER_BACKLOG', async () => {
      let ready = false;
      const hub = makeHub({
        broker: await redisClusterBroker({ rootNodes: cluster.urls, maxPendingBytes: 1000 }),
        onBrokerEvent: (e) => {
          if (/publisher: slot map loaded/.test(e.message)) ready = true;
        },
      });
      await until(() => ready, 'connected');
      const results = await Promise.allSettled(
        [...Array(20)].map(() => hub.publish(topics[0]!, new Uint8Array(200))),
      );
      const backlog = results.filter(
        (r) => r.status === 'rejected' && (r.reason as HubError).code === 'BROKER_BACKLOG',
      );
      assert.ok(backlog.length >= 10, `${backlog.length} rejected`);
      assert.ok(results.some((r) => r.status === 'fulfilled'));
      await hub.close();
    });

    it('invalid options: a TypeError for rootNodes, a RangeError for reconnectDelay and maxPendingBytes', async () => {
      await assert.rejects(redisClusterBroker({ rootNodes: [] }), TypeError);
      await assert.rejects(redisClusterBroker({ rootNodes: ['127.0.0.1:7000'] }), TypeError);
      // Every URL is read in full, not only the first.
      for (const bad of [
        'redis://127.0.0.1:99999',
        'redis://127.0.0.1:notaport',
        'redis://exa mple:1',
      ]) {
        await assert.rejects(
          redisClusterBroker({ rootNodes: [cluster.urls[0]!, bad] }),
          TypeError,
          bad,
        );
      }
      // A first delay of 0 would double to 0: a reconnect loop with no pause.
      for (const reconnectDelay of [0, -1]) {
        await assert.rejects(
          redisClusterBroker({ rootNodes: cluster.urls, reconnectDelay }),
          /reconnectDelay must be a positive number of milliseconds/,
        );
      }
      await assert.rejects(
        redisClusterBroker({ rootNodes: cluster.urls, maxPendingBytes: 0 }),
        /maxPendingBytes must be a positive number of bytes, not 0/,
      );
    });

    it("a topic's slot moves to another master: both nodes follow it, messages flow again", async () => {
      const a = makeHub({ broker: await redisClusterBroker({ rootNodes: [cluster.urls[0]!] }) });
      const b = makeHub({ broker: await redisClusterBroker({ rootNodes: [cluster.urls[1]!] }) });
      const t = topics[0]!;
      const channel = `wsstream:${t}`;
      const ra = recorder();
      const rb = recorder();
      a.subscribe(ra, t);
      b.subscribe(rb, t);
      await until(async () => (await shardNumSub(t)) === 2, 'subscribed');
      await a.publish(t, 'before');
      await until(() => rb.got.length === 1, 'delivery before the move');

      // Move the (empty) slot by hand, as `redis-cli --cluster reshard` does for one slot.
      const [from, to] = [cluster.ports[0]!, cluster.ports[1]!];
      assert.equal(await cluster.ownerOf(channel), from);
      const slot = await cluster.cli(from, 'cluster', 'keyslot', channel);
      const fromId = await cluster.cli(from, 'cluster', 'myid');
      const toId = await cluster.cli(to, 'cluster', 'myid');
      await cluster.cli(to, 'cluster', 'setslot', slot, 'importing', fromId);
      await cluster.cli(from, 'cluster', 'setslot', slot, 'migrating', toId);
      for (const port of [to, from, cluster.ports[2]!])
        await cluster.cli(port, 'cluster', 'setslot', slot, 'node', toId);
      assert.equal(await cluster.ownerOf(channel), to);

      // Redis ended the old subscriptions; node-redis subscribes them again on the new owner.
      await until(async () => (await shardNumSub(t)) === 2, 'subscribed on the new owner');
      assert.equal(
        await cluster.cli(from, 'pubsub', 'shardnumsub', channel).then((o) => o.split('\n').at(-1)),
        '0',
        'nothing left on the old owner',
      );
      // The publisher's slot map is stale: its SPUBLISH is answered MOVED and sent again.
      await a.publish(t, 'after');
      await b.publish(t, 'back');
      await until(() => rb.got.includes('after') && ra.got.includes('back'), 'delivery after');
      await sleep(200);
      // Each hub has its own publishes from the hub itself and the other's through the cluster: once each.
      for (const r of [ra, rb]) assert.deepEqual([...r.got].sort(), ['after', 'back', 'before']);
    });

    it('the whole cluster killed: publish rejects with BROKER_UNAVAILABLE; after a restart both nodes join again', async () => {
      const opts = { reconnectDelay: 20, maxReconnectDelay: 200 };
      const a = makeHub({
        broker: await redisClusterBroker({ rootNodes: [cluster.urls[0]!], ...opts }),
      });
      const b = makeHub({
        broker: await redisClusterBroker({ rootNodes: [cluster.urls[2]!], ...opts }),
      });
      const ra = recorder();
      const rb = recorder();
      for (const t of topics) {
        a.subscribe(ra, t);
        b.subscribe(rb, t);
      }
      for (const t of topics) await until(async () => (await shardNumSub(t)) === 2, `2 on ${t}`);
      await a.publish(topics[1]!, 'before');
      await until(() => rb.got.length === 1, 'delivery before the outage');

      await cluster.kill();
      await until(
        () =>
          a.publish(topics[1]!, 'during').then(
            () => false,
            (e: unknown) => e instanceof HubError && e.code === 'BROKER_UNAVAILABLE',
          ),
        'publish rejected while the cluster is down',
      );
      // Longer than node-redis's 5 s before it tries to reload the slot map (which fails here).
      await sleep(6000);
      assert.equal(rb.got.length, 1, 'nothing crossed during the outage');

      await cluster.restart();
      // The subscriptions come back on their own (node-redis re-subscribes on reconnect).
      for (const t of topics) await until(async () => (await shardNumSub(t)) === 2, `again ${t}`);
      await until(
        () =>
          a.publish(topics[1]!, 'after').then(
            () => true,
            () => false,
          ),
        'publish accepted again',
      );
      for (const t of topics) await b.publish(t, `after ${t}`);
      await until(
        () => ra.got.filter((m) => m.toString().startsWith('after')).length === 3,
        'b to a',
      );
      await until(() => rb.got.includes('after'), 'a to b');
      await a.close();
      await b.close();
    });

    /**
     * A topic's slot moves to a master that refuses the channel (an ACL on that node only)
     * and node-redis's attempt to subscribe it there fails; then the node allows it. With
     * `whileAway`, the subscriber is disconnected (its user disabled on the old owner) while
     * the slot moves, so that node-redis learns of the move from a MOVED answer when it
     * reconnects and subscribes the channel through the cluster client's sSubscribe();
     * otherwise it stays connected and is told by the old owner's SUNSUBSCRIBE, and moves
     * the channel's listeners itself. Either way: the failure reported, no subscription while
     * refused, the subscription made once allowed, messages delivered, and no unhandled
     * rejection.
     */
    async function refusedMove(t: string, whileAway: boolean, failure: string): Promise<void> {
      const unhandled: unknown[] = [];
      const onUnhandled = (reason: unknown): void => {
        unhandled.push(reason);
      };
      process.on('unhandledRejection', onUnhandled);
      const channel = `wsstream:${t}`;
      const from = await cluster.ownerOf(channel);
      const to = cluster.ports.find((p) => p !== from)!;
      for (const port of cluster.ports)
        await cluster.cli(port, 'acl', 'setuser', 'hub', 'on', '>pw', '~*', '&*', '+@all');
      await cluster.cli(to, 'acl', 'setuser', 'hub', 'resetchannels');
      const opened: Hub[] = [];
      try {
        const events: string[] = [];
        const a = makeHub({
          broker: await redisClusterBroker({
            rootNodes: [`redis://hub:pw@127.0.0.1:${from}`],
            // Reconnects and retries every 1-2 s: a few of them in this test.
            reconnectDelay: 2000,
            maxReconnectDelay: 2000,
          }),
          onBrokerEvent: (e) => events.push(e.message),
        });
        const b = makeHub({
          broker: await redisClusterBroker({
            rootNodes: [cluster.urls[to === cluster.ports[0] ? 1 : 0]!],
          }),
        });
        opened.push(a, b);
        const ra = recorder();
        a.subscribe(ra, t);
        await until(async () => (await shardNumSub(t)) === 1, 'subscribed');

        if (whileAway) {
          await cluster.cli(from, 'acl', 'setuser', 'hub', 'off');
          await cluster.cli(from, 'client', 'kill', 'user', 'hub');
          await until(
            () => events.some((m) => m.includes('subscriber: Socket closed')),
            'the subscriber disconnected',
          );
        }
        const slot = await cluster.cli(from, 'cluster', 'keyslot', channel);
        const fromId = await cluster.cli(from, 'cluster', 'myid');
        const toId = await cluster.cli(to, 'cluster', 'myid');
        await cluster.cli(to, 'cluster', 'setslot', slot, 'importing', fromId);
        await cluster.cli(from, 'cluster', 'setslot', slot, 'migrating', toId);
        for (const port of cluster.ports)
          await cluster.cli(port, 'cluster', 'setslot', slot, 'node', toId);
        if (whileAway) await cluster.cli(from, 'acl', 'setuser', 'hub', 'on');
        await until(
          () => events.some((m) => m.includes(channel) && m.includes(failure)),
          'the failed re-subscription reported',
        );
        assert.equal(await shardNumSub(t), 0);

        // Once the node takes the channel, the broker's next attempt holds.
        await cluster.cli(to, 'acl', 'setuser', 'hub', 'allchannels');
        await until(async () => (await shardNumSub(t)) === 1, 'subscribed on the new owner');
        await until(
          () =>
            b.publish(t, 'after').then(
              () => ra.got.includes('after'),
              () => false,
            ),
          'delivery after the move',
        );
        await sleep(100);
        assert.deepEqual(unhandled, []);
      } finally {
        for (const h of opened) await h.close();
        process.off('unhandledRejection', onUnhandled);
        for (const port of cluster.ports) await cluster.cli(port, 'acl', 'deluser', 'hub');
      }
    }

    it("node-redis's own re-subscription after a reconnect answered MOVED is refused: reported and retried until it holds, no unhandled rejection", async () => {
      await refusedMove(topics[2]!, true, 'could not be subscribed again');
    });

    it('a channel node-redis fails to move is refused: reported; the retry clears what node-redis kept and subscribes once allowed', async () => {
      await refusedMove(topics[1]!, false, 'moved and could not be subscribed again');
    });
  },
);
