/**
 * Scenario (j) of `npm run bench`: permessage-deflate (RFC 7692), wsstream's
 * defaults beside ws with `perMessageDeflate: true`, on JSON-like text
 * messages from json.ts (the same generator for every implementation).
 *
 * Clients (each in its own process, as the other client scenarios):
 *  - echo of 4 KiB messages, both ends compressing, against ws's
 *    WebSocketServer with `perMessageDeflate: true` (server-app.ts ws-deflate):
 *    msg/s and the client's CPU per message;
 *  - download of 16 KiB messages from the reference server, which sends them
 *    pre-compressed with context takeover (deflate-frames.ts), so that the
 *    client's inflating is what is measured: MB/s and client CPU s/GB.
 * Servers (wsstream `serve()` against ws's WebSocketServer with
 * `perMessageDeflate: true`, the fixed client ws+bufferutil with compression):
 * the same echo (server CPU per message) and download (server CPU s/GB),
 * and the server's RSS with 1,000 idle compressed connections and after each
 * of them echoed compressed messages (deflate-memory.ts).
 *
 * Every client reports the extensions it agreed; where permessage-deflate
 * was not negotiated the client fails and its cell says so, the run lists it
 * under "FAILED" and exits with status 1.
 */
import { measureDeflateMemory } from './deflate-memory.js';
import { rotated } from './order.js';
import type { Outcome, Row, Server } from './run.js';

/** What run.ts lends scenario (j). */
export interface DeflateContext {
  quick: boolean;
  runs: number;
  /** Client implementations of this run (wsstream, ws, undici, Bun, ...). */
  clients: string[];
  /** wsstream server implementations of this run (wsstream, wsstream-exact, wsstream-base). */
  servers: string[];
  window: number;
  nodeBin: string;
  startServer(script: string, argv?: string[]): Promise<Server>;
  stopServer(server: Server): Promise<void>;
  runClient(
    server: Server,
    impl: string,
    scenario: string,
    params: Record<string, number>,
    options?: { path?: string },
  ): Promise<Outcome>;
  /** A row of the client table. */
  row(label: string, unit: string, higherBetter: boolean): Row;
  add(r: Row, impl: string, value: number, note?: string): void;
  log: (line: string) => void;
  fmt: (v: number) => string;
}

/** Clients that cannot take part, and why (shown as notes and in the output). */
export const DEFLATE_LEFT_OUT: Record<string, string> = {
  deno: "Deno's WebSocket and WebSocketStream offer no permessage-deflate (Deno 2)",
};
/** Clients that inflate but never compress: in the download, not in the echo. */
const INFLATE_ONLY: Record<string, string> = {
  'undici-ws': 'undici only inflates: it sends uncompressed',
  'undici-wss': 'undici only inflates: it sends uncompressed',
};

const MiB = 1 << 20;
const ECHO_SIZE = 4096;
const DOWNLOAD_SIZE = 16 * 1024;

/** The rows of the server side of (j), the extensions agreed, and what failed. */
export interface DeflateResult {
  serverRows: Row[];
  /** The ws server's column name in serverRows. */
  wsServer: string;
  extensions: Map<string, string>;
  failures: string[];
}

export async function runDeflate(ctx: DeflateContext): Promise<DeflateResult> {
  const { log, fmt } = ctx;
  const size = ctx.quick
    ? { echo: 500, download: 8 * MiB, conns: 50, rounds: 1 }
    : { echo: 10_000, download: 256 * MiB, conns: 1_000, rounds: 5 };
  const extensions = new Map<string, string>();
  const failures: string[] = [];
  const dl = `download ${size.download / MiB} MiB as 16 KiB JSON`;
  const cEcho = ctx.row(`(j) deflate echo 4 KiB JSON, window ${ctx.window}`, 'msg/s', true);
  const cEchoCpu = ctx.row('(j) deflate echo, client CPU', 'µs/msg', false);
  const cDl = ctx.row(`(j) deflate ${dl}`, 'MB/s', true);
  const cDlCpu = ctx.row('(j) deflate download, client CPU', 's/GB', false);

  const serverRows: Row[] = [];
  const srow = (label: string, unit: string, higherBetter: boolean): Row => {
    const r: Row = {
      label,
      unit,
      higherBetter,
      values: new Map(),
      notes: new Map(),
      serverLoad: 0,
    };
    serverRows.push(r);
    return r;
  };
  const sEcho = srow(`(j) server, deflate echo 4 KiB JSON, window ${ctx.window}`, 'msg/s', true);
  const sEchoCpu = srow('(j) server, deflate echo, server CPU', 'µs/msg', false);
  const sDl = srow(`(j) server, deflate ${dl}`, 'MB/s', true);
  const sDlCpu = srow('(j) server, deflate download, server CPU', 's/GB', false);
  const sIdle = srow(
    `(j) server, ${size.conns} idle compressed connections, server RSS`,
    'MB',
    false,
  );
  const sBusy = srow(
    `(j) server, ${size.conns} connections after ${size.rounds} compressed echo${size.rounds === 1 ? '' : 'es'} each, server RSS`,
    'MB',
    false,
  );

  /** Records the outcome's extensions; false (with a note) where it failed. */
  const ok = (r: Row, impl: string, o: Outcome, key = `${impl} client`): boolean => {
    if (o.extensions !== undefined) extensions.set(key, o.extensions);
    if (o.result !== undefined) return true;
    const why = o.killed ?? (o.error ?? 'failed').split('\n')[0]!;
    const notNegotiated = why.includes('not negotiated');
    log(`  (j) ${impl}: ${why}`);
    r.notes.set(impl, notNegotiated ? 'NOT NEGOTIATED' : 'failed');
    failures.push(`${r.label}: ${impl}: ${why}`);
    return false;
  };
  for (const impl of ctx.clients) {
    const why = DEFLATE_LEFT_OUT[impl];
    if (why !== undefined) for (const r of [cEcho, cDl]) r.notes.set(impl, 'left out');
    if (INFLATE_ONLY[impl] !== undefined) cEcho.notes.set(impl, 'sends uncompressed');
  }
  const echoClients = ctx.clients.filter((i) => !DEFLATE_LEFT_OUT[i] && !INFLATE_ONLY[i]);
  const downloadClients = ctx.clients.filter((i) => !DEFLATE_LEFT_OUT[i]);
  const echoParams = { count: size.echo, window: ctx.window, msgSize: ECHO_SIZE, deflate: 1 };
  const dlParams = { size: DOWNLOAD_SIZE, total: size.download, deflate: 1 };

  for (let run = 1; run <= ctx.runs; run++) {
    log(`(j) compressed, run ${run}/${ctx.runs}`);
    const wsDeflate = await ctx.startServer('server-app.js', ['ws-deflate']);
    for (const impl of rotated(echoClients, run)) {
      const o = await ctx.runClient(wsDeflate, impl, 'echo', echoParams);
      if (!ok(cEcho, impl, o)) continue;
      const rate = size.echo / (o.result!.ms / 1000);
      ctx.add(cEcho, impl, rate);
      ctx.add(cEchoCpu, impl, o.result!.cpu / size.echo);
      cEcho.serverLoad = Math.max(cEcho.serverLoad, o.serverCpu / 1000 / o.result!.ms);
      log(`  (j) echo ${impl}: ${fmt(rate)} msg/s [${o.extensions}]`);
    }
    await ctx.stopServer(wsDeflate);
    const ref = await ctx.startServer('ref-server.js');
    for (const impl of rotated(downloadClients, run)) {
      const o = await ctx.runClient(ref, impl, 'download', dlParams, { path: '/deflate-download' });
      if (!ok(cDl, impl, o)) continue;
      const mbps = size.download / 1e6 / (o.result!.ms / 1000);
      ctx.add(cDl, impl, mbps);
      ctx.add(cDlCpu, impl, o.result!.cpu / 1e6 / (size.download / 1e9));
      cDl.serverLoad = Math.max(cDl.serverLoad, o.serverCpu / 1000 / o.result!.ms);
      log(`  (j) download ${impl}: ${fmt(mbps)} MB/s [${o.extensions}]`);
    }
    await ctx.stopServer(ref);

    // The server side: one fixed client, ws+bufferutil with perMessageDeflate: true.
    for (const impl of rotated([...ctx.servers, 'ws-deflate'], run)) {
      const server = await ctx.startServer('server-app.js', [impl]);
      const o1 = await ctx.runClient(server, 'ws+bufferutil', 'echo', echoParams);
      if (ok(sEcho, impl, o1, `ws client of ${impl} server`)) {
        ctx.add(sEcho, impl, size.echo / (o1.result!.ms / 1000));
        ctx.add(sEchoCpu, impl, o1.serverCpu / size.echo);
      }
      const o2 = await ctx.runClient(server, 'ws+bufferutil', 'download', dlParams, {
        path: '/download-json',
      });
      if (ok(sDl, impl, o2, `ws client of ${impl} server`)) {
        ctx.add(sDl, impl, size.download / 1e6 / (o2.result!.ms / 1000));
        ctx.add(sDlCpu, impl, o2.serverCpu / 1e6 / (size.download / 1e9));
      }
      await ctx.stopServer(server);
      log(
        `  (j) server ${impl}: echo ${fmt(size.echo / ((o1.result?.ms ?? NaN) / 1000))} msg/s, download ${fmt(size.download / 1e6 / ((o2.result?.ms ?? NaN) / 1000))} MB/s`,
      );
      try {
        const m = await measureDeflateMemory(
          impl === 'ws-deflate' ? 'ws' : impl,
          size.conns,
          size.rounds,
          ctx.nodeBin,
        );
        ctx.add(sIdle, impl, m.idle / 1e6);
        ctx.add(sBusy, impl, m.busy / 1e6);
        extensions.set(`ws clients of ${impl} server (memory)`, m.agreed);
        log(
          `  (j) server ${impl}: RSS empty ${fmt(m.base / 1e6)} MB, idle ${fmt(m.idle / 1e6)} MB, after echoes ${fmt(m.busy / 1e6)} MB [${m.agreed}]`,
        );
      } catch (error) {
        const why = String((error as Error).message ?? error);
        log(`  (j) memory ${impl}: ${why}`);
        sIdle.notes.set(impl, why.includes('not negotiated') ? 'NOT NEGOTIATED' : 'failed');
        failures.push(`${sIdle.label}: ${impl}: ${why}`);
      }
    }
  }
  return { serverRows, wsServer: 'ws-deflate', extensions, failures };
}
