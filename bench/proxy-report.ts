/**
 * The report of bench/proxy.ts: the figures (the median round per path, the spread over the
 * rounds), the table, the targets, and as the last line one JSON object with every figure.
 */
import { readFile } from 'node:fs/promises';
import { cpus } from 'node:os';
import { EXCHANGE_BYTES, median, type BulkResult, type ConnRateResult, type PingPongResult } from './proxy-load.ts';
import type { ProcStats } from './proxy-procs.ts';
import type { EnforcementFacts } from './proxy-policy.ts';
import type { PathName, TlsFacts } from './proxy-setup.ts';

const TARGET_BULK_VS_STUNNEL = 1.5;
const TARGET_CONNS_VS_STUNNEL = 2;
const TARGET_PEAK_RSS_BYTES = 64 * 2 ** 20;

export type Phase = 'bulk' | 'rtt' | 'seq' | 'conc';

export interface Measurement<T> {
  round: number;
  result: T;
  /** CPU seconds the pair's processes used during the measurement, client side then server side. */
  pairCpuSeconds: number[];
  sinkCpuSeconds: number;
}

/** The run's settings, as the options made them (--quick scaled). */
export interface ReportSettings {
  bulkBytes: number;
  bulkSeconds: number;
  pings: number;
  pingWarmup: number;
  seqConns: number;
  concConns: number;
  concurrency: number;
  connSeconds: number;
  rounds: number;
  phases: Phase[];
  paths: PathName[];
}

export interface ReportInput {
  startedAt: Date;
  loadStart: number[];
  loadEnd: number[];
  stunnelVersion?: string;
  proxyEntry: 'cli' | 'direct';
  proxyNote: string;
  tls: Partial<Record<'stunnel' | 'proxy', TlsFacts>>;
  results: {
    bulk: Map<PathName, Measurement<BulkResult>[]>;
    rtt: Map<PathName, Measurement<PingPongResult>[]>;
    seq: Map<PathName, Measurement<ConnRateResult>[]>;
    conc: Map<PathName, Measurement<ConnRateResult>[]>;
  };
  memory: Partial<Record<PathName, Array<ProcStats & { name: string; pid: number }>>>;
  rssAfterWarmup: Record<string, number[]>;
  windows: Array<{ round: number; phase: Phase; path: PathName; windowUs: [number, number] }>;
  proxyWarnings?: number;
  policyWarnings?: number;
  /** What the policy server proxy counted and logged (verified before the report). */
  enforcement?: EnforcementFacts;
  settings: ReportSettings;
  /** --profile: where the proxies wrote their CPU profiles. */
  profileDir?: string;
}

export function report(input: ReportInput): number {
  const { results } = input;
  const { bulkBytes, bulkSeconds, pings, pingWarmup, seqConns, concConns, concurrency, connSeconds, rounds, phases, paths } = input.settings;
  const all = ['direct', 'stunnel', 'proxy', 'policy'] as const;
  const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);
  // The figure of the median round for each path (and the spread over the rounds).
  const stat = <T>(phase: keyof ReportInput['results'], path: PathName, pick: (m: Measurement<T>) => number) => {
    const list = (results[phase] as Map<PathName, Measurement<T>[]>).get(path);
    if (!list?.length) return undefined;
    const values = list.map(pick);
    return { median: median(values), min: Math.min(...values), max: Math.max(...values), values };
  };
  type Stat = ReturnType<typeof stat>;
  const figures = Object.fromEntries(
    all.map((p) => [
      p,
      {
        bulkMBps: stat<BulkResult>('bulk', p, (m) => m.result.mbPerSec),
        bulkPairCpuSecondsPerGB: stat<BulkResult>('bulk', p, (m) => sum(m.pairCpuSeconds) / (m.result.bytes / 1e9)),
        rttP50Us: stat<PingPongResult>('rtt', p, (m) => m.result.us.p50),
        rttP99Us: stat<PingPongResult>('rtt', p, (m) => m.result.us.p99),
        seqPerSec: stat<ConnRateResult>('seq', p, (m) => m.result.perSec),
        seqP50Ms: stat<ConnRateResult>('seq', p, (m) => m.result.ms.p50),
        concPerSec: stat<ConnRateResult>('conc', p, (m) => m.result.perSec),
        concP99Ms: stat<ConnRateResult>('conc', p, (m) => m.result.ms.p99),
        connPairCpuUs: stat<ConnRateResult>('conc', p, (m) => (sum(m.pairCpuSeconds) * 1e6) / Math.max(1, m.result.ok)),
      },
    ]),
  ) as unknown as Record<PathName, Record<string, Stat>>;
  const errors = [...results.seq.values(), ...results.conc.values()].flat().reduce((n, m) => n + m.result.errors, 0);
  const incomplete = [...results.bulk.values()].flat().filter((m) => !m.result.complete).length;

  const f = (p: PathName, key: string) => figures[p][key]?.median;
  const ratio = (a: number | undefined, b: number | undefined) => (a !== undefined && b !== undefined && b > 0 ? a / b : undefined);
  const added = (p: PathName) => (f(p, 'rttP50Us') !== undefined && f('direct', 'rttP50Us') !== undefined ? f(p, 'rttP50Us')! - f('direct', 'rttP50Us')! : undefined);
  const proxyRss = input.memory.proxy?.map((m) => m.peakRssBytes);
  const target = (value: number | undefined, goal: number, met: (v: number) => boolean) => (value === undefined ? null : { value, target: goal, met: met(value) });
  const targets = {
    bulkVsStunnel: target(ratio(f('proxy', 'bulkMBps'), f('stunnel', 'bulkMBps')), TARGET_BULK_VS_STUNNEL, (v) => v >= TARGET_BULK_VS_STUNNEL),
    addedRttP50VsStunnelUs: added('proxy') !== undefined && added('stunnel') !== undefined ? { value: added('proxy')!, target: added('stunnel')!, met: added('proxy')! <= added('stunnel')! } : null,
    seqConnsVsStunnel: target(ratio(f('proxy', 'seqPerSec'), f('stunnel', 'seqPerSec')), TARGET_CONNS_VS_STUNNEL, (v) => v >= TARGET_CONNS_VS_STUNNEL),
    concConnsVsStunnel: target(ratio(f('proxy', 'concPerSec'), f('stunnel', 'concPerSec')), TARGET_CONNS_VS_STUNNEL, (v) => v >= TARGET_CONNS_VS_STUNNEL),
    peakRssPerProxyBytes: proxyRss ? { value: Math.max(...proxyRss), target: TARGET_PEAK_RSS_BYTES, met: Math.max(...proxyRss) <= TARGET_PEAK_RSS_BYTES } : null,
  };

  // ---- the table ----
  const present = all.filter((p) => Object.values(figures[p]).some((s) => s !== undefined));
  const num = (v: number | undefined, digits = 0) => (v === undefined || !Number.isFinite(v) ? '-' : v.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits }));
  const x = (v: number | undefined) => (v === undefined ? '-' : `${v.toFixed(2)}x`);
  const cell = (s: Stat, digits = 0) => (s ? (rounds > 1 ? `${num(s.median, digits)} (${num(s.min, digits)}-${num(s.max, digits)})` : num(s.median, digits)) : '-');
  const W = rounds > 1 ? 22 : 12;
  const out: string[] = [];
  const cpuModel = cpus()[0]?.model.trim();
  out.push('');
  out.push(`Proxy benchmark — node ${process.version} (OpenSSL ${process.versions.openssl}) for the client, the sink and both proxies; ${cpus().length} CPUs (${cpuModel})`);
  out.push(`load average at start ${input.loadStart.map((v) => v.toFixed(2)).join(' ')}, at end ${input.loadEnd.map((v) => v.toFixed(2)).join(' ')} (every process of every path shares these CPUs)`);
  if (input.stunnelVersion) out.push(`stunnel ${input.stunnelVersion}`);
  out.push(`proxies: ${input.proxyEntry === 'cli' ? '`identity proxy` (bin/identity.mjs, the CLI)' : 'bench/proxy-direct.ts (startProxy without the CLI\'s other commands)'}, log level info, allow-all authorization`);
  if (input.enforcement) {
    const e = input.enforcement;
    out.push(
      `policy   the proxy pair, its server proxy with --pod bench/server --policy-dir (Server + AuthorizationPolicy for the client's identity) --default-policy deny --decision-log; ` +
        `checked: ${e.allowed} allows for ${e.connections} connections, ${e.denied} denies, decision log ${e.decisionLogLines} lines in ${e.decisionLogFiles} file(s), ` +
        `${e.decisionLogDropped} records dropped${e.decisionLogDropped ? ` (${Object.entries(e.decisionLogDroppedByReason).filter(([, n]) => n).map(([r, n]) => `${r} ${n}`).join(', ')})` : ''}`,
    );
  }
  if (input.proxyNote) out.push(`note: ${input.proxyNote}`);
  for (const [name, t] of Object.entries(input.tls)) {
    out.push(
      `${name.padEnd(8)} ${t.protocol ?? '?'} ${t.cipher ?? '?'}, key exchange ${t.group ?? '?'}, ECDSA P-256 certificates from identity serve; ` +
        `client certificate required: ${t.refusesWithoutClientCert ? 'yes (a client without one was refused)' : 'NOT ENFORCED'}` +
        `${t.resumed !== undefined ? `; sessions resumed ${t.resumed}` : ''}  [${t.source}]`,
    );
  }
  out.push(`${rounds} round(s); each cell is the median round${rounds > 1 ? ' (min-max over the rounds)' : ''}. Bulk ${(bulkBytes / 2 ** 20).toFixed(0)} MiB one way (bound ${bulkSeconds} s), MB = 10^6 bytes; ` +
    `round trips ${pings} x ${EXCHANGE_BYTES} B on one connection; connections: connect, ${EXCHANGE_BYTES} B exchange, close (${seqConns} sequential, ${concConns} at ${concurrency} concurrent, bound ${connSeconds} s)`);
  out.push('');
  const withProxy = present.includes('proxy');
  const withPolicy = present.includes('policy');
  out.push(`${''.padEnd(30)}${present.map((p) => p.padStart(W)).join('')}${withProxy ? `${'proxy/direct'.padStart(14)}${'proxy/stunnel'.padStart(15)}` : ''}${withPolicy ? 'policy/proxy'.padStart(14) : ''}`);
  const row = (label: string, key: string, digits = 0) => {
    const cells = present.map((p) => cell(figures[p][key], digits).padStart(W)).join('');
    const r = withProxy ? `${x(ratio(f('proxy', key), f('direct', key))).padStart(14)}${x(ratio(f('proxy', key), f('stunnel', key))).padStart(15)}` : '';
    const pr = withPolicy ? x(ratio(f('policy', key), f('proxy', key))).padStart(14) : '';
    out.push(`${label.padEnd(30)}${cells}${r}${pr}`);
  };
  if (phases.includes('bulk')) {
    row('bulk MB/s', 'bulkMBps');
    row('  pair CPU s per GB', 'bulkPairCpuSecondsPerGB', 2);
  }
  if (phases.includes('rtt')) {
    row('64 B round trip p50 µs', 'rttP50Us');
    row('64 B round trip p99 µs', 'rttP99Us');
    out.push(
      `${'  added p50 µs (vs direct)'.padEnd(30)}${present.map((p) => num(added(p)).padStart(W)).join('')}` +
        `${withProxy ? `${''.padStart(14)}${x(ratio(added('proxy'), added('stunnel'))).padStart(15)}` : ''}${withPolicy ? x(ratio(added('policy'), added('proxy'))).padStart(14) : ''}`,
    );
  }
  if (phases.includes('seq')) {
    row('new conns/s sequential', 'seqPerSec');
    row('  connection p50 ms', 'seqP50Ms', 2);
  }
  if (phases.includes('conc')) {
    row(`new conns/s ${concurrency} concurrent`, 'concPerSec');
    row('  connection p99 ms', 'concP99Ms', 2);
    row('  pair CPU µs per connection', 'connPairCpuUs');
  }
  const mib = (b: number) => (b / 2 ** 20).toFixed(1);
  for (const p of ['stunnel', 'proxy', 'policy'] as const) {
    const mem = input.memory[p];
    if (!mem) continue;
    out.push(`${`peak RSS ${p} (client/server)`.padEnd(34)}${mem.map((m) => `${mib(m.peakRssBytes)} MiB`).join(' / ')}   (RSS after warm-up ${input.rssAfterWarmup[p]?.map(mib).join(' / ')} MiB; at end ${mem.map((m) => mib(m.rssBytes)).join(' / ')} MiB)`);
  }
  if (errors || incomplete) out.push(`errors: ${errors} failed connections, ${incomplete} bulk runs cut short by the time bound`);
  if (input.proxyWarnings !== undefined) out.push(`proxy log lines at warn or above: ${input.proxyWarnings}`);
  if (input.policyWarnings !== undefined) out.push(`policy pair log lines at warn or above: ${input.policyWarnings}`);
  if (input.enforcement) out.push(`decision log records dropped (policy server proxy): ${input.enforcement.decisionLogDropped} of ${input.enforcement.decisionLogRecords + input.enforcement.decisionLogDropped}`);
  out.push('');
  out.push('Targets');
  const mark = (met: boolean) => (met ? 'MET' : 'MISSED');
  if (targets.bulkVsStunnel) out.push(`  bulk >= ${TARGET_BULK_VS_STUNNEL}x stunnel              ${x(targets.bulkVsStunnel.value)}   ${mark(targets.bulkVsStunnel.met)}`);
  if (targets.addedRttP50VsStunnelUs) out.push(`  added RTT p50 <= stunnel's        ${num(targets.addedRttP50VsStunnelUs.value)} µs vs ${num(targets.addedRttP50VsStunnelUs.target)} µs   ${mark(targets.addedRttP50VsStunnelUs.met)}`);
  if (targets.seqConnsVsStunnel) out.push(`  new conns/s seq >= ${TARGET_CONNS_VS_STUNNEL}x stunnel     ${x(targets.seqConnsVsStunnel.value)}   ${mark(targets.seqConnsVsStunnel.met)}`);
  if (targets.concConnsVsStunnel) out.push(`  new conns/s c${concurrency} >= ${TARGET_CONNS_VS_STUNNEL}x stunnel     ${x(targets.concConnsVsStunnel.value)}   ${mark(targets.concConnsVsStunnel.met)}`);
  if (targets.peakRssPerProxyBytes) out.push(`  peak RSS <= 64 MiB per proxy       ${mib(targets.peakRssPerProxyBytes.value)} MiB (largest)   ${mark(targets.peakRssPerProxyBytes.met)}`);
  if (input.profileDir) {
    out.push('');
    out.push(`Profiles: ${input.profileDir}/{client,server}/*.cpuprofile (policy pair: ${input.profileDir}/{policy-client,policy-server}); proxy windows (monotonic µs, for bench/profile-summary.ts --window):`);
    for (const w of input.windows.filter((w) => w.path === 'proxy' || w.path === 'policy')) out.push(`  ${w.path.padEnd(6)} round ${w.round} ${w.phase.padEnd(4)} ${w.windowUs[0]}-${w.windowUs[1]}`);
  }
  process.stdout.write(`${out.join('\n')}\n\n`);

  const summary = {
    bench: 'proxy',
    time: input.startedAt.toISOString(),
    node: process.version,
    openssl: process.versions.openssl,
    platform: `${process.platform}-${process.arch}`,
    cpus: cpus().length,
    cpuModel,
    loadavgStart: input.loadStart,
    loadavgEnd: input.loadEnd,
    stunnel: input.stunnelVersion,
    proxyEntry: input.proxyEntry,
    proxyNote: input.proxyNote || undefined,
    tls: input.tls,
    settings: { bulkBytes, bulkSeconds, pings, pingWarmup, seqConns, concConns, concurrency, connSeconds, rounds, phases, paths },
    figures,
    addedRttP50Us: Object.fromEntries(present.map((p) => [p, added(p)])),
    ratios: {
      proxyVsDirect: Object.fromEntries(Object.keys(figures.proxy).map((k) => [k, ratio(f('proxy', k), f('direct', k))])),
      proxyVsStunnel: Object.fromEntries(Object.keys(figures.proxy).map((k) => [k, ratio(f('proxy', k), f('stunnel', k))])),
      stunnelVsDirect: Object.fromEntries(Object.keys(figures.stunnel).map((k) => [k, ratio(f('stunnel', k), f('direct', k))])),
      policyVsProxy: Object.fromEntries(Object.keys(figures.policy).map((k) => [k, ratio(f('policy', k), f('proxy', k))])),
    },
    memory: input.memory,
    rssAfterWarmupBytes: input.rssAfterWarmup,
    runs: Object.fromEntries(Object.entries(results).map(([phase, map]) => [phase, Object.fromEntries([...map].map(([p, list]) => [p, list]))])),
    errors,
    bulkCutShort: incomplete,
    targets,
    profileDir: input.profileDir,
    policyEnforcement: input.enforcement,
  };
  process.stdout.write(`${JSON.stringify(summary)}\n`);
  return errors > 0 ? 1 : 0;
}

/** The progress line of one measurement. */
export function describe(phase: Phase, r: BulkResult | PingPongResult | ConnRateResult): string {
  if (phase === 'bulk') {
    const b = r as BulkResult;
    return `${b.mbPerSec.toFixed(0)} MB/s (${(b.bytes / 2 ** 20).toFixed(0)} MiB in ${b.seconds.toFixed(2)} s${b.complete ? '' : ', cut short'})`;
  }
  if (phase === 'rtt') {
    const p = r as PingPongResult;
    return `p50 ${p.us.p50.toFixed(0)} µs, p99 ${p.us.p99.toFixed(0)} µs`;
  }
  const c = r as ConnRateResult;
  return `${c.perSec.toFixed(0)}/s (${c.ok} ok, ${c.errors} errors${c.firstError ? `: ${c.firstError}` : ''}), p50 ${c.ms.p50.toFixed(2)} ms, p99 ${c.ms.p99.toFixed(2)} ms`;
}

/** Log lines at warn or above (a JSON level of 40-69) in these files. */
export async function countWarnings(files: string[]): Promise<number> {
  let n = 0;
  for (const file of files) {
    for (const line of (await readFile(file, 'utf8').catch(() => '')).split('\n')) if (/"level":(4|5|6)\d/.test(line)) n++;
  }
  return n;
}
