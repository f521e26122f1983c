/**
 * `npm run bench`: runs the same scenarios for wsstream and its peers side by
 * side, each client in its own process, against one reference server (or, for
 * the server-side scenarios, against each server under test with one fixed
 * client), and prints a table of medians with each implementation's ratio to
 * the best. Numbers are printed, never asserted.
 *
 *   npm run bench                   full run (medians of 3 runs)
 *   npm run bench -- --quick        one run, smaller sizes
 *   npm run bench -- --only=a,c     some scenarios (a b c d e f g h i j)
 *   npm run bench -- --runs=5       more runs
 *   npm run bench -- --impls=wsstream,ws+bufferutil
 *   npm run bench -- --cpu-prof     write a CPU profile of every wsstream process to .tmp/prof/
 *   npm run bench -- --node=PATH    run every client and server with another node binary
 *   npm run bench -- --deno=PATH --bun=PATH   the native peers' binaries
 *                                   (default .tmp/runtimes/bin/{deno,bun}; skipped with a note where missing)
 *   npm run bench -- --svg=FILE     also write the table as a chart (default .tmp/bench.svg)
 *   npm run bench -- --baseline=REF also run wsstream as built from the git ref REF
 *                                   (column wsstream-base), with each median's ratio to it
 */
import { execFileSync, fork, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, release, totalmem } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ClientResult, Job } from './client.js';
import { chart } from './chart.js';
import { MESSAGE_PREFIX } from './wire.js';
import type { FloorResult } from './streams-floor.js';
import { runFanout } from './fanout.js';
import { DEFLATE_LEFT_OUT, runDeflate, type DeflateResult } from './deflate-scenario.js';
import { buildBaseline } from './baseline.js';
import { balancedRuns, rotated } from './order.js';

const here = dirname(fileURLToPath(import.meta.url));
const args = process.argv.slice(2);
const flag = (name: string): string | undefined =>
  args.find((a) => a === `--${name}` || a.startsWith(`--${name}=`))?.split('=')[1] ??
  (args.includes(`--${name}`) ? '' : undefined);
const quick = flag('quick') !== undefined;
const only = new Set((flag('only') ?? 'a,b,c,d,e,f,g,h,i,j').split(',').filter(Boolean));
const profile = flag('cpu-prof') !== undefined;
const PROFILE_ARGS = ['--cpu-prof', '--cpu-prof-dir=.tmp/prof'];
const runsAsked = Number(flag('runs') ?? (quick ? 1 : 3));
/** The node binary of the clients and servers (default: this one). */
const nodeBin = flag('node') || process.execPath;
const nodeVersion =
  nodeBin === process.execPath
    ? process.version
    : execFileSync(nodeBin, ['--version'], { encoding: 'utf8' }).trim();
const MiB = 1 << 20;
const GiB = 1 << 30;

const size = quick
  ? {
      echo: 50_000,
      pingpong: 2_000,
      download: 128 * MiB,
      upload: 64 * MiB,
      flood: 3,
      connect: 300,
      conns: 200,
      rounds: 5,
    }
  : {
      echo: 300_000,
      pingpong: 10_000,
      download: GiB,
      upload: 512 * MiB,
      flood: 10,
      connect: 2_000,
      conns: 1_000,
      rounds: 10,
    };
const WINDOW = 100;
/** (e): the consumer's rate, bytes/s. */
const FLOOD_RATE = 5_000_000;
/** (e): a client whose RSS passes this is killed. */
const RSS_CAP = GiB;

/** The repository: run.js runs from .tmp/bench-build. */
const root = join(here, '..', '..');

/**
 * The native peers: each runs client.js on its own runtime (from
 * scripts/install-runtimes.sh, or --deno= / --bun=), skipped where missing.
 */
const RUNTIMES: Record<string, { bin: string; args: string[]; label: string }> = {
  deno: {
    bin: flag('deno') || join(root, '.tmp/runtimes/bin/deno'),
    // WebSocketStream is behind --unstable-net in Deno 2.
    args: ['run', '--allow-all', '--unstable-net'],
    label: 'Deno',
  },
  bun: { bin: flag('bun') || join(root, '.tmp/runtimes/bin/bun'), args: ['run'], label: 'Bun' },
};
const runtimeVersion: Record<string, string> = {};
const skipped: string[] = [];
for (const [name, rt] of Object.entries(RUNTIMES)) {
  if (existsSync(rt.bin)) {
    runtimeVersion[name] = execFileSync(rt.bin, ['--version'], { encoding: 'utf8' })
      .split('\n')[0]!
      .trim();
  } else {
    skipped.push(
      `${rt.label}: not found at ${rt.bin} (run scripts/install-runtimes.sh); its column is left out`,
    );
  }
}

/** --baseline=REF: wsstream built from another git ref, run beside the current one. */
const baselineRef = flag('baseline');
const baseline =
  baselineRef === undefined || baselineRef === ''
    ? undefined
    : buildBaseline(root, baselineRef, (line) => process.stderr.write(`${line}\n`));
// The clients and servers of wsstream-base find the build here (impl.ts).
if (baseline !== undefined) process.env.WSSTREAM_BASE_DIR = baseline.dir;
/**
 * Against a baseline, an even number of runs: with an odd one, one of the two
 * builds would run first (or before the other) more often than the other.
 */
const runs = baseline === undefined ? runsAsked : balancedRuns(runsAsked, 2);
if (runs !== runsAsked)
  process.stderr.write(
    `--runs=${runsAsked} with --baseline: ${runs} runs, so that each build runs first as often as the other\n`,
  );

const CLIENTS = [
  'wsstream',
  ...(baseline !== undefined ? ['wsstream-base'] : []),
  'wsstream-exact',
  'ws',
  'ws+bufferutil',
  'undici-ws',
  'undici-wss',
  ...Object.keys(RUNTIMES).filter((name) => runtimeVersion[name] !== undefined),
];
const implFilter = flag('impls')?.split(',');
/** Is `impl` in this run? --baseline adds wsstream-base wherever wsstream runs. */
const selected = (impl: string): boolean =>
  implFilter === undefined ||
  implFilter.includes(impl) ||
  (impl === 'wsstream-base' && implFilter.includes('wsstream'));
const LABEL: Record<string, string> = {
  wsstream: 'wsstream',
  'wsstream-exact': 'wsstream batchWrites: false',
  'wsstream-base': `wsstream @ ${baseline?.label ?? 'baseline'}`,
  'ws-deflate': 'ws perMessageDeflate: true',
  deno: 'Deno WebSocketStream',
  bun: 'Bun WebSocket',
  ws: 'ws',
  'ws+bufferutil': 'ws+bufferutil',
  'undici-ws': 'undici WebSocket',
  'undici-wss': 'undici WebSocketStream',
  net: 'node:net (ceiling)',
};

// ---- processes -------------------------------------------------------------------

export interface Server {
  child: ChildProcess;
  port: number;
  cpu(): Promise<{ cpu: number; rss: number }>;
  floods: Map<string, number>;
}

function startServer(script: string, argv: string[] = []): Promise<Server> {
  const child = fork(join(here, script), argv, {
    execPath: nodeBin,
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    execArgv: profile && argv[0]?.startsWith('wsstream') === true ? PROFILE_ARGS : [],
  });
  const floods = new Map<string, number>();
  let cpuWaiter: ((v: { cpu: number; rss: number }) => void) | null = null;
  return new Promise((resolve, reject) => {
    child.on(
      'message',
      (m: {
        type: string;
        port: number;
        id: string;
        sent: number;
        user: number;
        system: number;
        rss: number;
      }) => {
        if (m.type === 'ready') {
          resolve({
            child,
            port: m.port,
            floods,
            cpu: () =>
              new Promise((r) => {
                cpuWaiter = r;
                child.send({ type: 'cpu' });
              }),
          });
        } else if (m.type === 'flood') {
          floods.set(m.id, m.sent);
        } else if (m.type === 'cpu') {
          cpuWaiter?.({ cpu: m.user + m.system, rss: m.rss ?? 0 });
          cpuWaiter = null;
        }
      },
    );
    child.once('exit', (code) => reject(new Error(`${script} exited with ${code}`)));
  });
}

/** Peak (VmHWM) and current (VmRSS) RSS of `pid` in bytes, from /proc. */
function procRss(pid: number): { peak: number; now: number } {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = (key: string): number =>
      Number(new RegExp(`${key}:\\s+(\\d+)`).exec(status)?.[1] ?? 0) * 1024;
    return { peak: kb('VmHWM'), now: kb('VmRSS') };
  } catch {
    return { peak: 0, now: 0 };
  }
}

export interface Outcome {
  result?: ClientResult;
  /** The extensions the client agreed to, as it reported them. */
  extensions?: string;
  error?: string;
  killed?: string;
  peakRss: number;
  /** Server CPU time during the job, µs. */
  serverCpu: number;
}

async function runClient(
  server: Server,
  impl: string,
  scenario: string,
  params: Record<string, number>,
  options: { timeoutMs?: number; onHolding?: () => Promise<void>; path?: string } = {},
): Promise<Outcome> {
  const job: Job = {
    impl,
    scenario,
    base: `ws://127.0.0.1:${server.port}`,
    params,
    ...(options.path !== undefined ? { path: options.path } : {}),
  };
  const env = { ...process.env };
  if (impl === 'ws') env.WS_NO_BUFFER_UTIL = '1';
  // undici prints an "experimental" warning for WebSocketStream.
  if (impl.startsWith('undici')) env.NODE_NO_WARNINGS = '1';
  const before = await server.cpu();
  const runtime = RUNTIMES[impl];
  const child =
    runtime !== undefined
      ? spawn(runtime.bin, [...runtime.args, join(here, 'client.js'), JSON.stringify(job)], {
          stdio: ['ignore', 'pipe', 'inherit'],
          env,
        })
      : fork(join(here, 'client.js'), [JSON.stringify(job)], {
          execPath: nodeBin,
          stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
          env,
          execArgv: profile && impl.startsWith('wsstream') ? PROFILE_ARGS : [],
        });
  // Deno and Bun have no IPC channel with node: their messages come as stdout lines.
  if (runtime !== undefined) relayStdoutMessages(child);
  let peakRss = 0;
  let killed: string | undefined;
  const poll = setInterval(() => {
    const { peak, now } = procRss(child.pid!);
    if (peak > peakRss) peakRss = peak;
    if (now > RSS_CAP && killed === undefined) {
      killed = `grew to ${mb(now)} MB, killed`;
      child.kill('SIGKILL');
    }
  }, 20);
  const timer = setTimeout(() => {
    killed ??= `no result within ${(options.timeoutMs ?? 180_000) / 1000} s, killed`;
    child.kill('SIGKILL');
  }, options.timeoutMs ?? 180_000);
  const outcome = await new Promise<Omit<Outcome, 'serverCpu' | 'peakRss'>>((resolve) => {
    let settled: Omit<Outcome, 'serverCpu' | 'peakRss'> = {};
    child.on(
      'message',
      (m: { type: string; result: ClientResult; message: string; extensions?: string }) => {
        if (m.type === 'result') settled = { result: m.result, extensions: m.extensions };
        else if (m.type === 'error') settled = { error: m.message };
        else if (m.type === 'holding') {
          void (options.onHolding?.() ?? Promise.resolve()).then(() =>
            child.send({ type: 'release' }),
          );
        }
      },
    );
    child.once('exit', () => resolve(settled));
  });
  clearInterval(poll);
  clearTimeout(timer);
  const after = await server.cpu();
  if (outcome.result !== undefined) peakRss = Math.max(peakRss, outcome.result.maxRss);
  return { ...outcome, killed, peakRss, serverCpu: after.cpu - before.cpu };
}

// ---- statistics and formatting --------------------------------------------------

function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 === 1 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}
const mb = (bytes: number): string => (bytes / 1e6).toFixed(0);
function fmt(v: number): string {
  if (!Number.isFinite(v)) return '-';
  if (v >= 100) return Math.round(v).toLocaleString('en-US');
  if (v >= 10) return v.toFixed(1);
  return v.toFixed(2);
}

/** One table row: a metric measured for several implementations. */
export interface Row {
  label: string;
  unit: string;
  higherBetter: boolean;
  values: Map<string, number[]>;
  notes: Map<string, string>;
  /** Highest reference-server CPU seen in the row, as a fraction of one core. */
  serverLoad: number;
}

const rows: Row[] = [];
function row(label: string, unit: string, higherBetter: boolean): Row {
  const r: Row = { label, unit, higherBetter, values: new Map(), notes: new Map(), serverLoad: 0 };
  rows.push(r);
  return r;
}
function add(r: Row, impl: string, value: number, note?: string): void {
  if (!r.values.has(impl)) r.values.set(impl, []);
  r.values.get(impl)!.push(value);
  if (note !== undefined) r.notes.set(impl, note);
}
function value(r: Row | undefined, impl: string): number {
  const v = r?.values.get(impl);
  return v === undefined || v.length === 0 ? NaN : median(v);
}

/** `impl`'s ratio to the best of `impls` in `r` (1 = best, smaller = worse; NaN: not measured). */
function ratioToBest(r: Row, impl: string, impls: string[]): number {
  const finite = impls.map((i) => value(r, i)).filter((v) => Number.isFinite(v));
  const v = value(r, impl);
  if (finite.length === 0 || !Number.isFinite(v)) return NaN;
  const best = r.higherBetter ? Math.max(...finite) : Math.min(...finite);
  return r.higherBetter ? v / best : best / v;
}

/** wsstream against the best native runtime (Deno, Bun), scenario by scenario. */
function nativeTable(list: Row[], natives: string[]): string {
  const lines = [
    '### wsstream against the fastest native runtime',
    '',
    "The ratio is wsstream's result to the best of the native clients (above 1: wsstream is ahead).",
    '',
    '| scenario | wsstream | fastest native runtime | ratio |',
    '|---|---:|---|---:|',
  ];
  for (const r of list) {
    const ours = value(r, 'wsstream');
    const theirs = natives
      .map((i) => ({ i, v: value(r, i) }))
      .filter((x) => Number.isFinite(x.v))
      .sort((a, b) => (r.higherBetter ? b.v - a.v : a.v - b.v))[0];
    if (theirs === undefined || !Number.isFinite(ours)) continue;
    const ratio = r.higherBetter ? ours / theirs.v : theirs.v / ours;
    lines.push(
      `| ${r.label}, ${r.unit} | ${fmt(ours)} | ${LABEL[theirs.i] ?? theirs.i} ${fmt(theirs.v)} | ${ratio.toFixed(2)} |`,
    );
  }
  lines.push('');
  return lines.join('\n');
}

/** --baseline: every row's wsstream median against the baseline build's, and how far it moved. */
function baselineTable(list: Row[], label: string): string {
  const lines = [
    `### wsstream against the baseline ${label}`,
    '',
    'Ratio above 1: the current wsstream is better (faster, or less CPU or memory); below 1: it got worse.',
    '',
    '| scenario | wsstream | baseline | ratio | moved |',
    '|---|---:|---:|---:|---|',
  ];
  for (const r of list) {
    const now = value(r, 'wsstream');
    const base = value(r, 'wsstream-base');
    if (!Number.isFinite(now) || !Number.isFinite(base) || base === 0 || now === 0) continue;
    const ratio = r.higherBetter ? now / base : base / now;
    const change = (now / base - 1) * 100;
    const verdict = ratio >= 0.97 ? (ratio > 1.03 ? 'better' : 'same') : 'WORSE';
    lines.push(
      `| ${r.label}, ${r.unit} | ${fmt(now)} | ${fmt(base)} | ${ratio.toFixed(2)} | ${change >= 0 ? '+' : ''}${change.toFixed(1)}% ${verdict} |`,
    );
  }
  lines.push(
    '',
    'Within 3% counts as the same: the machine is shared, and one run of medians moves by more than that.',
    '',
  );
  return lines.join('\n');
}

function table(title: string, list: Row[], impls: string[]): string {
  const lines: string[] = [];
  lines.push(`### ${title}`, '');
  lines.push(`| scenario | ${impls.map((i) => LABEL[i] ?? i).join(' | ')} | ref. server CPU |`);
  lines.push(`|---|${impls.map(() => '---:').join('|')}|---:|`);
  for (const r of list) {
    const meds = impls.map((i) => value(r, i));
    const finite = meds.filter((v) => Number.isFinite(v));
    const best =
      finite.length === 0 ? NaN : r.higherBetter ? Math.max(...finite) : Math.min(...finite);
    const cells = impls.map((impl, k) => {
      const v = meds[k]!;
      const note = r.notes.get(impl);
      if (!Number.isFinite(v)) return note ?? '';
      const ratio = r.higherBetter ? v / best : best / v;
      return `${fmt(v)} (${ratio.toFixed(2)})${note !== undefined ? ` ${note}` : ''}`;
    });
    lines.push(
      `| ${r.label}, ${r.unit} | ${cells.join(' | ')} | ${r.serverLoad > 0 ? `${Math.round(r.serverLoad * 100)}%` : ''} |`,
    );
  }
  lines.push('');
  return lines.join('\n');
}

// ---- the run --------------------------------------------------------------------

function describeMachine(): string {
  const c = cpus();
  return `${c.length} x ${c[0]?.model ?? 'unknown CPU'}, ${(totalmem() / GiB).toFixed(0)} GiB RAM, Linux ${release()}, Node ${nodeVersion}`;
}

function log(msg: string): void {
  process.stderr.write(`${msg}\n`);
}

async function main(): Promise<void> {
  const startedAt = Date.now();
  const clients = CLIENTS.filter(selected);
  const withNet = [
    ...clients,
    ...(implFilter === undefined || implFilter.includes('net') ? ['net'] : []),
  ];
  const ref = await startServer('ref-server.js');
  let floodId = 0;

  const rEcho = only.has('a') ? row(`(a) echo 64 B, window ${WINDOW}`, 'msg/s', true) : undefined;
  const rEchoc = only.has('a') ? row('(a) echo, client CPU', 'µs/msg', false) : undefined;
  const rEchow = only.has('a') ? row('(a) echo, client write calls', '/msg', false) : undefined;
  const rP50 = only.has('b') ? row('(b) ping-pong p50', 'µs', false) : undefined;
  const rP99 = only.has('b') ? row('(b) ping-pong p99', 'µs', false) : undefined;
  const rP99w = only.has('b')
    ? row('(b) ping-pong p99 while warming up (round trips 1,001-5,000)', 'µs', false)
    : undefined;
  const dl = `download ${size.download / MiB} MiB`;
  const rD64 = only.has('c') ? row(`(c) ${dl} as 64 KiB`, 'MB/s', true) : undefined;
  const rD64c = only.has('c') ? row(`(c) ${dl} as 64 KiB, client CPU`, 's/GB', false) : undefined;
  const rD1m = only.has('c') ? row(`(c) ${dl} as 1 MiB`, 'MB/s', true) : undefined;
  const rD1mc = only.has('c') ? row(`(c) ${dl} as 1 MiB, client CPU`, 's/GB', false) : undefined;
  const rUp = only.has('d')
    ? row(`(d) upload ${size.upload / MiB} MiB as 64 KiB`, 'MB/s', true)
    : undefined;
  const rUpc = only.has('d') ? row(`(d) upload, client CPU`, 's/GB', false) : undefined;
  const rFr = only.has('e')
    ? row(`(e) ${size.flood} s flood read at 5 MB/s, peak RSS`, 'MB', false)
    : undefined;
  const rFh = only.has('e') ? row('(e) flood, bytes held at the end', 'MB', false) : undefined;
  const rCo = only.has('f')
    ? row(`(f) ${size.connect} sequential connect+close`, '/s', true)
    : undefined;

  const load = (r: Row | undefined, o: Outcome): void => {
    if (r !== undefined && o.result !== undefined && o.result.ms > 0) {
      r.serverLoad = Math.max(r.serverLoad, o.serverCpu / 1000 / o.result.ms);
    }
  };
  const failed = (r: Row | undefined, impl: string, o: Outcome): boolean => {
    if (o.result !== undefined) return false;
    const why = o.killed ?? (o.error ?? 'failed').split('\n')[0]!;
    log(`  ${impl}: ${why}`);
    if (r !== undefined) r.notes.set(impl, o.killed ?? 'failed');
    return true;
  };

  for (let run = 1; run <= runs; run++) {
    log(`run ${run}/${runs}`);
    for (const impl of only.has('a') ? rotated(clients, run) : []) {
      const o = await runClient(ref, impl, 'echo', { count: size.echo, window: WINDOW });
      if (failed(rEcho, impl, o)) continue;
      add(rEcho!, impl, size.echo / (o.result!.ms / 1000));
      add(rEchoc!, impl, o.result!.cpu / size.echo);
      // Deno and Bun write to sockets with send(2), which /proc/self/io does not count.
      if (o.result!.writes > 0 && RUNTIMES[impl] === undefined)
        add(rEchow!, impl, o.result!.writes / size.echo);
      load(rEcho, o);
      log(`  (a) ${impl}: ${fmt(size.echo / (o.result!.ms / 1000))} msg/s`);
    }
    for (const impl of only.has('b') ? rotated(clients, run) : []) {
      const o = await runClient(ref, impl, 'pingpong', { count: size.pingpong });
      if (failed(rP50, impl, o)) continue;
      add(rP50!, impl, o.result!.p50!);
      add(rP99!, impl, o.result!.p99!);
      add(rP99w!, impl, o.result!.p99warmup!);
      load(rP50, o);
      log(
        `  (b) ${impl}: p50 ${fmt(o.result!.p50!)} µs, p99 ${fmt(o.result!.p99!)} µs, p99 warming up ${fmt(o.result!.p99warmup!)} µs`,
      );
    }
    for (const [chunk, rate, cpu] of [
      [64 * 1024, rD64, rD64c],
      [MiB, rD1m, rD1mc],
    ] as const) {
      for (const impl of only.has('c') ? rotated(withNet, run) : []) {
        const o = await runClient(ref, impl, 'download', { size: chunk, total: size.download });
        if (failed(rate, impl, o)) continue;
        const mbps = size.download / 1e6 / (o.result!.ms / 1000);
        add(rate!, impl, mbps);
        add(cpu!, impl, o.result!.cpu / 1e6 / (size.download / 1e9));
        load(rate, o);
        log(`  (c) ${impl} ${chunk / 1024} KiB: ${fmt(mbps)} MB/s`);
      }
    }
    for (const impl of only.has('d') ? rotated(withNet, run) : []) {
      const o = await runClient(ref, impl, 'upload', { size: 64 * 1024, total: size.upload });
      if (failed(rUp, impl, o)) continue;
      const mbps = size.upload / 1e6 / (o.result!.ms / 1000);
      add(rUp!, impl, mbps);
      add(rUpc!, impl, o.result!.cpu / 1e6 / (size.upload / 1e9));
      load(rUp, o);
      log(`  (d) ${impl}: ${fmt(mbps)} MB/s`);
    }
    for (const impl of only.has('e') ? rotated(clients, run) : []) {
      const id = String(++floodId);
      const o = await runClient(
        ref,
        impl,
        'flood',
        {
          size: 64 * 1024,
          rate: FLOOD_RATE,
          seconds: size.flood,
          id: Number(id),
        },
        { timeoutMs: (size.flood + 20) * 1000 },
      );
      await waitFor(() => ref.floods.has(id), 2000);
      const sent = ref.floods.get(id) ?? NaN;
      if (o.killed !== undefined) {
        add(rFr!, impl, o.peakRss, '(killed)');
        rFr!.notes.set(impl, o.killed);
        log(`  (e) ${impl}: ${o.killed}`);
        continue;
      }
      if (failed(rFr, impl, o)) continue;
      add(rFr!, impl, o.peakRss / 1e6);
      add(rFh!, impl, (sent - o.result!.consumed!) / 1e6);
      log(
        `  (e) ${impl}: peak RSS ${mb(o.peakRss)} MB (base ${mb(o.result!.baseRss)} MB), held ${mb(sent - o.result!.consumed!)} MB`,
      );
    }
    for (const impl of only.has('f') ? rotated(withNet, run) : []) {
      const o = await runClient(ref, impl, 'connect', { count: size.connect });
      if (failed(rCo, impl, o)) continue;
      add(rCo!, impl, size.connect / (o.result!.ms / 1000));
      load(rCo, o);
      log(`  (f) ${impl}: ${fmt(size.connect / (o.result!.ms / 1000))}/s`);
    }
  }
  // A killed run's RSS is a floor, not a peak: show the note instead of a number.
  if (rFr !== undefined) {
    for (const [impl, note] of rFr.notes) {
      if (note.includes('killed')) rFr.values.delete(impl);
    }
  }
  await stopServer(ref);

  const wsstreamServers = ['wsstream', 'wsstream-base', 'wsstream-exact'].filter(
    (s) => (s !== 'wsstream-base' || baseline !== undefined) && selected(s),
  );
  // ---- (j) permessage-deflate, clients and servers ----
  let deflate: DeflateResult | undefined;
  if (only.has('j')) {
    deflate = await runDeflate({
      quick,
      runs,
      clients,
      servers: wsstreamServers,
      window: WINDOW,
      nodeBin,
      startServer,
      stopServer,
      runClient: (server, impl, scenario, params, options) =>
        runClient(server, impl, scenario, params, options),
      row,
      add,
      log,
      fmt,
    });
  }

  // ---- (g) server side ----
  const sRows: Row[] = [];
  const srow = (label: string, unit: string, higherBetter: boolean): Row => {
    const r: Row = {
      label,
      unit,
      higherBetter,
      values: new Map(),
      notes: new Map(),
      serverLoad: 0,
    };
    sRows.push(r);
    return r;
  };
  const servers = [...wsstreamServers, 'ws'];
  if (only.has('g')) {
    const gEcho = srow(`(g) echo 64 B, window ${WINDOW}`, 'msg/s', true);
    const gDl = srow(`(g) download ${size.download / MiB} MiB as 64 KiB`, 'MB/s', true);
    const gDlc = srow('(g) download, server CPU', 's/GB', false);
    const gOpen = srow(`(g) ${size.conns} concurrent connections, opened`, '/s', true);
    const gRound = srow(`(g) ${size.conns} connections x ${size.rounds} ping-pong`, 'msg/s', true);
    const gRss = srow(`(g) ${size.conns} connections, server RSS`, 'MB', false);
    for (let run = 1; run <= runs; run++) {
      log(`server side, run ${run}/${runs}`);
      for (const impl of rotated(servers, run)) {
        const server = await startServer('server-app.js', [impl]);
        const o1 = await runClient(server, 'ref', 'echo', { count: size.echo, window: WINDOW });
        if (!failed(gEcho, impl, o1)) add(gEcho, impl, size.echo / (o1.result!.ms / 1000));
        const o2 = await runClient(server, 'ref', 'download', {
          size: 64 * 1024,
          total: size.download,
        });
        if (!failed(gDl, impl, o2)) {
          add(gDl, impl, size.download / 1e6 / (o2.result!.ms / 1000));
          add(gDlc, impl, o2.serverCpu / 1e6 / (size.download / 1e9));
        }
        let rss = 0;
        const o3 = await runClient(
          server,
          'ref',
          'conns',
          { count: size.conns, rounds: size.rounds },
          {
            onHolding: async () => {
              rss = (await server.cpu()).rss;
            },
          },
        );
        if (!failed(gOpen, impl, o3)) {
          add(gOpen, impl, o3.result!.openPerSec!);
          add(gRound, impl, o3.result!.echoPerSec!);
          add(gRss, impl, rss / 1e6);
        }
        log(
          `  (g) ${impl}: echo ${fmt(value(gEcho, impl))} msg/s, download ${fmt(value(gDl, impl))} MB/s, conns ${fmt(value(gOpen, impl))}/s`,
        );
        await stopServer(server);
      }
    }
  }

  // (h) the runtime's own cost: WHATWG streams with no socket and no protocol.
  const floors: FloorResult[] = [];
  if (only.has('h')) {
    for (let run = 1; run <= runs; run++) {
      log(`streams floor, run ${run}/${runs}`);
      floors.push(await runFloor());
    }
  }

  // ---- output ----
  const out: string[] = [];
  out.push(`Machine: ${describeMachine()}`);
  const versions = Object.entries(runtimeVersion).map(([k, v]) => `${RUNTIMES[k]!.label} ${v}`);
  if (versions.length > 0) out.push(`Native peers: ${versions.join(', ')}`);
  for (const note of skipped) out.push(`Skipped: ${note}`);
  out.push(
    `Command: npm run bench${args.length > 0 ? ` -- ${args.join(' ')}` : ''}; medians of ${runs} run(s), (ratio to the best); wall ${Math.round((Date.now() - startedAt) / 1000)} s`,
  );
  out.push(
    'MB = 10^6 bytes, GB = 10^9 bytes. "ref. server CPU" is the highest CPU use of the reference server during a row, in % of one core.',
    '',
  );
  if (rows.length > 0)
    out.push(table('Clients against the reference server (loopback)', rows, withNet));
  if (sRows.length > 0) {
    out.push(
      table('Servers with the same raw client (loopback)', sRows, servers)
        .replace(/ \| ref. server CPU \|/, ' |')
        .replace(/\|---:\|\n/, '|\n')
        .replace(/ \|  \|$/gm, ' |'),
    );
  }
  const jServers = [...wsstreamServers, 'ws-deflate'];
  if (deflate !== undefined) {
    out.push(
      table(
        'Compressed (j): servers with the same client, ws+bufferutil with perMessageDeflate: true (loopback)',
        deflate.serverRows,
        jServers,
      )
        .replace(/ \| ref. server CPU \|/, ' |')
        .replace(/\|---:\|\n/, '|\n')
        .replace(/ \|  \|$/gm, ' |'),
      "(j) clients: the echo runs against ws's WebSocketServer with perMessageDeflate: true, the download against the reference server sending pre-compressed messages (context takeover, window bits 15); ws and ws+bufferutil clients with perMessageDeflate: true.",
      ...Object.entries(DEFLATE_LEFT_OUT)
        .filter(([impl]) => clients.includes(impl))
        .map(([impl, why]) => `(j) left out: ${LABEL[impl] ?? impl}: ${why}.`),
      '(j) negotiated:',
      ...[...deflate.extensions].map(([who, ext]) => `- ${who}: \`${ext || '(none)'}\``),
      '',
    );
    for (const f of deflate.failures) out.push(`**FAILED** ${f}`);
    if (deflate.failures.length > 0) {
      out.push('');
      process.exitCode = 1;
    }
  }
  if (baseline !== undefined) {
    // (g) rows name the server side already, (j) server rows too.
    const baseRows = [...rows, ...sRows, ...(deflate?.serverRows ?? [])];
    out.push(baselineTable(baseRows, baseline.label));
  }

  const natives = withNet.filter((i) => RUNTIMES[i] !== undefined);
  if (rows.length > 0 && natives.length > 0) out.push(nativeTable(rows, natives));

  if (floors.length > 0) {
    const med = (k: keyof FloorResult): string => fmt(median(floors.map((f) => f[k])));
    out.push(
      [
        `### (h) The runtime's floor: WHATWG streams alone (Node ${nodeVersion})`,
        '',
        'No socket, no protocol: a message enqueued, read and written to a sink that completes at once (highWaterMark 1, as WebSocketStream); every WebSocketStream on this runtime pays at least this.',
        '',
        '| measure | value |',
        '|---|---:|',
        `| read + write per message, one stream pair, ns | ${med('onePair')} |`,
        `| read + write per message, over 1,000 live stream pairs, ns | ${med('manyPairs')} |`,
        `| heap of one readable + writable pair piped together, bytes | ${med('pipedPairBytes')} |`,
        `| heap of one readable + writable pair with a reader and a writer, bytes | ${med('lockedPairBytes')} |`,
        `| time to make a readable + writable pair and lock both, µs | ${med('pairMicros')} |`,
        '',
      ].join('\n'),
    );
  }

  // ---- targets ----
  const t: string[] = ['### Targets', ''];
  const check = (ok: boolean | undefined, text: string): void => {
    t.push(
      `- [${ok === undefined ? '?' : ok ? 'x' : ' '}] ${ok === undefined ? 'not measured: ' : ok ? 'holds: ' : 'MISSED: '}${text}`,
    );
  };
  const ahead = (r: Row | undefined, a: string, b: string): boolean | undefined => {
    const va = value(r, a);
    const vb = value(r, b);
    // A peer killed at the memory cap lost to any finite result.
    if (Number.isFinite(va) && r!.notes.get(b)?.includes('killed') === true) return true;
    if (!Number.isFinite(va) || !Number.isFinite(vb)) return undefined;
    return r!.higherBetter ? va > vb : va < vb;
  };
  const jRows = deflate?.serverRows ?? [];
  for (const r of [...rows, ...sRows, ...jRows]) {
    if (r === rFh || r === rEchow) continue;
    const b = sRows.includes(r) ? 'ws' : jRows.includes(r) ? 'ws-deflate' : 'ws+bufferutil';
    const peer = sRows.includes(r)
      ? 'ws server'
      : jRows.includes(r)
        ? 'ws server perMessageDeflate: true'
        : r.label.startsWith('(j)')
          ? 'ws+bufferutil perMessageDeflate: true'
          : 'ws+bufferutil';
    check(
      ahead(r, 'wsstream', b),
      `${r.label}: wsstream ${fmt(value(r, 'wsstream'))} vs ${peer} ${fmt(value(r, b))} ${r.unit}`,
    );
  }
  for (const r of [rD64, rD1m]) {
    if (r === undefined) continue;
    const ratio = value(r, 'wsstream') / value(r, 'net');
    check(
      Number.isFinite(ratio) ? ratio >= 0.8 : undefined,
      `${r.label}: wsstream at ${(ratio * 100).toFixed(0)}% of raw node:net (target 80%)`,
    );
  }
  if (rUp !== undefined) {
    check(
      Number.isFinite(value(rUp, 'wsstream')) ? value(rUp, 'wsstream') >= 1800 : undefined,
      `upload ${fmt(value(rUp, 'wsstream'))} MB/s (target 1,800)`,
    );
  }
  if (rFr !== undefined) {
    const v = value(rFr, 'wsstream');
    check(
      Number.isFinite(v) ? v < 90 : undefined,
      `(e) wsstream peak RSS ${fmt(v)} MB (target under 90 MB); undici WebSocket: ${rFr.notes.get('undici-ws') ?? `${fmt(value(rFr, 'undici-ws'))} MB`}; undici WebSocketStream: ${rFr.notes.get('undici-wss') ?? `${fmt(value(rFr, 'undici-wss'))} MB`}`,
    );
  }
  out.push(t.join('\n'), '');
  // (i) fan-out over Redis: its own section, skipped with a note when redis-server is missing.
  if (only.has('i')) out.push(await runFanout(quick, nodeBin));
  process.stdout.write(out.join('\n'));

  const svgFile = flag('svg') || join(root, '.tmp/bench.svg');
  writeFileSync(
    svgFile,
    chart(
      `wsstream and its peers on Node ${nodeVersion}: ratio to the best per scenario (1 = best)`,
      [
        { title: 'Clients against the reference server', rows, impls: withNet },
        { title: 'Servers with the same raw client', rows: sRows, impls: servers },
        {
          title: 'Compressed (j): servers with the same ws client',
          rows: deflate?.serverRows ?? [],
          impls: jServers,
        },
      ].map((part) => ({
        title: part.title,
        impls: part.impls.map((i) => LABEL[i] ?? i),
        rows: part.rows
          .filter((r) => r !== rEchow && r !== rFh)
          .map((r) => ({
            label: `${r.label}, ${r.unit}`,
            ratios: part.impls.map((i) => ratioToBest(r, i, part.impls)),
            notes: part.impls.map((i) => r.notes.get(i)),
          })),
      })),
    ),
  );
  log(`chart: ${svgFile}`);
}

/** (h): one run of streams-floor.js in its own process, on the benchmarked node binary. */
function runFloor(): Promise<FloorResult> {
  const child = fork(join(here, 'streams-floor.js'), [], {
    execPath: nodeBin,
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    execArgv: ['--expose-gc'],
  });
  return new Promise((resolve, reject) => {
    child.once('message', (m: { result: FloorResult }) => resolve(m.result));
    child.once('exit', (code) => reject(new Error(`streams-floor.js exited with ${code}`)));
  });
}

/** Turns the message lines a client writes to stdout (no IPC channel) into 'message' events. */
function relayStdoutMessages(child: ChildProcess): void {
  let text = '';
  child.stdout!.setEncoding('utf8');
  child.stdout!.on('data', (chunk: string) => {
    text += chunk;
    let nl: number;
    while ((nl = text.indexOf('\n')) >= 0) {
      const line = text.slice(0, nl);
      text = text.slice(nl + 1);
      if (line.startsWith(MESSAGE_PREFIX)) {
        child.emit('message', JSON.parse(line.slice(MESSAGE_PREFIX.length)) as unknown);
      } else if (line.length > 0) process.stderr.write(`${line}\n`);
    }
  });
}

/** Stops a server process by closing its IPC channel, so that it exits normally (and writes its profile). */
async function stopServer(server: Server): Promise<void> {
  const exited = new Promise((r) => server.child.once('exit', r));
  server.child.removeAllListeners('exit');
  server.child.once('exit', () => {});
  server.child.disconnect();
  await Promise.race([exited, new Promise((r) => setTimeout(r, 3000))]);
  if (server.child.exitCode === null) server.child.kill();
}

async function waitFor(cond: () => boolean, ms: number): Promise<void> {
  const end = Date.now() + ms;
  while (!cond() && Date.now() < end) await new Promise((r) => setTimeout(r, 10));
}

await main();
process.exit(0);
