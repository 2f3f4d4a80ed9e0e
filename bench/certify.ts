/**
 * Certify benchmark: the identity service in its own process, driven over real TLS gRPC at
 * concurrency 1, 16 and 64, beside the machine's raw crypto floor measured in-process.
 *
 *   npm run bench:certify                 # Node 20
 *   npx -y node@24 bin/run-ts.mjs bench/certify.ts
 *
 * The server is `identity serve` (bin/identity.mjs), as deployed.
 *
 * Options: --crypto-workers N   passed to identity serve (default: its own, cores - 1; 0 = in-thread)
 *          --levels 1,16,64  --warmup N  --requests-c1 N  --requests N (c16, c64 and others)
 *          --quick (a fifth of the requests)  --max-seconds S (per level; default 45)
 *          --floor-seconds S  --tmp DIR  --keep-home
 *          --profile DIR   run the server with --cpu-prof into DIR; the level windows are printed
 *                          (analyse with bench/profile-summary.ts)
 *
 * Prints a table, then as its last line one JSON object with every figure. Exit status 1 if any
 * request failed or the run broke; missed targets are reported, not fatal.
 */
import { createPrivateKey, randomUUID, X509Certificate } from 'node:crypto';
import { readFileSync, rmSync, statfsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { systemClock } from '../common/clock.ts';
import { defaultIdentityDomain, identityName, identityServiceAccount, type ServiceAccountRef } from '../common/names.ts';
import { signLocalServiceAccountToken } from '../identity/validators/local-token.ts';
import { HomeLayout } from '../trust-anchors/directory-store.ts';
import { initHome } from '../trust-anchors/home.ts';
import { makeBenchCsr, type BenchCsr } from './csr.ts';
import { measureFloor, type FloorResult } from './floor.ts';
import { createClientPool, runLevel, type ClientPool, type LevelResult, type PreparedRequest } from './load.ts';
import { startServerProcess, type ServerProcess } from './server-process.ts';

const TARGET_C16_PER_SEC = 3_000;
const TARGET_C16_P99_MS = 10;
const TARGET_C1_FLOOR_FRACTION = 0.5;
const WORKLOADS = 64;

const { values: args } = parseArgs({
  options: {
    'crypto-workers': { type: 'string' },
    levels: { type: 'string', default: '1,16,64' },
    warmup: { type: 'string', default: '2000' },
    'requests-c1': { type: 'string', default: '2000' },
    requests: { type: 'string', default: '12000' },
    quick: { type: 'boolean', default: false },
    'floor-seconds': { type: 'string', default: '1.5' },
    tmp: { type: 'string' },
    'keep-home': { type: 'boolean', default: false },
    profile: { type: 'string' },
    'max-seconds': { type: 'string', default: '45' },
  },
});

const scale = args.quick ? 0.2 : 1;
const count = (text: string) => Math.max(1, Math.round(Number(text) * scale));
const maxSeconds = Number(args['max-seconds']);
const levels = args.levels.split(',').map(Number);
if (levels.some((c) => !Number.isInteger(c) || c < 1 || c > 1024)) throw new Error(`--levels "${args.levels}" is not a list of concurrencies`);
const warmupCount = count(args.warmup);
const levelCounts = levels.map((c) => (c === 1 ? count(args['requests-c1']) : count(args.requests)));
const cryptoWorkers = args['crypto-workers'];
if (cryptoWorkers !== undefined && !/^\d+$/.test(cryptoWorkers)) throw new Error(`--crypto-workers "${cryptoWorkers}" is not a whole number`);

// ---- cleanup, also on failure and on signals ----
let home: string | undefined;
let server: ServerProcess | undefined;
let pool: ClientPool | undefined;
let cleaning: Promise<void> | undefined;
let interrupted = false;
class Interrupted extends Error {}
function cleanup(): Promise<void> {
  cleaning ??= (async () => {
    pool?.close();
    await server?.stop().catch(() => undefined);
    if (home && !args['keep-home']) await rm(home, { recursive: true, force: true });
  })();
  return cleaning;
}
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    interrupted = true;
    process.stderr.write(`\n${signal}: stopping the server and removing ${home ?? 'nothing'}\n`);
    void cleanup().finally(() => process.exit(130));
  });
}
process.once('exit', () => {
  // Last resort if something threw past the async cleanup.
  server?.killNow();
  if (home && !args['keep-home']) rmSync(home, { recursive: true, force: true });
});

const progress = (text: string) => process.stderr.write(`[bench] ${text}\n`);

function fsType(path: string): string {
  const types: Record<number, string> = { 0xef53: 'ext2/3/4', 0x01021994: 'tmpfs', 0x58465342: 'xfs', 0x9123683e: 'btrfs', 0x794c7630: 'overlayfs' };
  try {
    const type = statfsSync(path).type;
    return types[type] ?? `0x${type.toString(16)}`;
  } catch {
    return 'unknown';
  }
}

interface LevelReport extends LevelResult {
  serverCpuSeconds: number;
  serverSystemSeconds: number;
  serverCpuPercent: number;
  serverCpuUsPerIssuance: number;
  clientCpuPercent: number;
}

async function main(): Promise<number> {
  const startedAt = new Date();
  const loadStart = loadavg();
  home = await mkdtemp(join(args.tmp ?? tmpdir(), 'identity-bench-'));
  const domain = defaultIdentityDomain;
  progress(`home ${home} (${fsType(home)})`);
  await initHome({ home, domain, anchorLifetimeMs: 365 * 86_400_000, issuerLifetimeMs: 180 * 86_400_000, force: false, clock: systemClock });

  // One token per simulated workload (ServiceAccount), signed by the home's token key.
  const tokenKey = createPrivateKey(await readFile(join(home, HomeLayout.tokenKey), 'utf8'));
  const workloads = await Promise.all(
    Array.from({ length: WORKLOADS }, async (_, i) => {
      const sa: ServiceAccountRef = { namespace: `bench-${i % 8}`, name: `workload-${String(i).padStart(2, '0')}` };
      const token = await signLocalServiceAccountToken({
        signingKey: tokenKey,
        serviceAccount: sa,
        trustDomain: domain.trustDomain,
        ttlMs: 3_600_000,
        clock: systemClock,
        uid: randomUUID(),
      });
      return { identity: identityName(sa, domain), token: Buffer.from(token, 'utf8') };
    }),
  );

  // Every request gets its own CSR with its own key; requests go round-robin over the workloads.
  const total = warmupCount + levelCounts.reduce((a, b) => a + b, 0);
  progress(`making ${total} CSRs (a P-256 key each) for ${WORKLOADS} workloads`);
  const csrStart = performance.now();
  const csrs: BenchCsr[] = [];
  const requests: PreparedRequest[] = [];
  for (let k = 0; k < total; k++) {
    const w = workloads[k % WORKLOADS]!;
    const csr = makeBenchCsr(w.identity);
    if (k < 4096) csrs.push(csr);
    requests.push({ message: { identity: w.identity, token: w.token, certificate_signing_request: csr.der } });
  }
  const csrSeconds = (performance.now() - csrStart) / 1000;
  progress(`CSRs ready in ${csrSeconds.toFixed(1)} s`);

  // The floor first, while the server is not running (it would compete for the cores).
  progress('measuring the raw node:crypto floor');
  const floor: FloorResult = measureFloor(csrs, Number(args['floor-seconds']));

  const nodeFlags = args.profile ? ['--cpu-prof', '--cpu-prof-dir', args.profile] : [];
  server = await startServerProcess({ home: home!, nodeFlags, serveFlags: cryptoWorkers !== undefined ? ['--crypto-workers', cryptoWorkers] : [] });
  progress(`server pid ${server.pid}, Certify on 127.0.0.1:${server.port}, admin on ${server.adminPort}`);
  const serverCpuAtReady = server.cpuSeconds();
  const rssAtReady = server.memory().rssBytes;

  const connections = Math.max(...levels);
  pool = createClientPool({
    address: `127.0.0.1:${server.port}`,
    serverIdentity: identityName(identityServiceAccount(domain), domain),
    trustBundlePem: readFileSync(join(home, HomeLayout.bundle), 'utf8'),
    connections,
  });
  await pool.connect(15_000);
  progress(`${connections} TLS connections up`);

  // Warm-up: every connection carries traffic, the server's JIT settles. The first answer is checked.
  let offset = 0;
  let checked: string | undefined;
  const warmup = await runLevel(pool, connections, requests.slice(offset, (offset += warmupCount)), {
    maxSeconds,
    onResponse: (res, req) => {
      if (checked) return;
      const leaf = new X509Certificate(res.leaf_certificate);
      checked = leaf.subjectAltName?.includes(`DNS:${req.message.identity}`) ? 'ok' : `the issued certificate names ${leaf.subjectAltName}, not ${req.message.identity}`;
    },
  });
  if (checked !== 'ok') throw new Error(`warm-up: ${checked ?? 'no certificate was issued'} (${warmup.firstError ?? ''})`);
  if (interrupted) throw new Interrupted();
  progress(`warm-up: ${warmup.ok} ok, ${warmup.errors} errors, ${warmup.perSec.toFixed(0)}/s`);
  if (warmup.errors > 0) progress(`warm-up error: ${warmup.firstError}`);

  const reports: LevelReport[] = [];
  for (const [i, concurrency] of levels.entries()) {
    const batch = requests.slice(offset, (offset += levelCounts[i]!));
    const cpu0 = server.cpuTimes();
    const client0 = process.cpuUsage();
    const result = await runLevel(pool, concurrency, batch, { maxSeconds });
    if (interrupted) throw new Interrupted();
    const client = process.cpuUsage(client0);
    const cpu1 = server.cpuTimes();
    const serverCpuSeconds = cpu1.user + cpu1.system - cpu0.user - cpu0.system;
    reports.push({
      ...result,
      serverCpuSeconds,
      serverSystemSeconds: cpu1.system - cpu0.system,
      serverCpuPercent: (100 * serverCpuSeconds) / result.seconds,
      serverCpuUsPerIssuance: result.ok > 0 ? (serverCpuSeconds * 1e6) / result.ok : NaN,
      clientCpuPercent: (100 * (client.user + client.system)) / 1e6 / result.seconds,
    });
    progress(`c${concurrency}: ${result.perSec.toFixed(0)}/s, p99 ${result.latencyMs.p99.toFixed(2)} ms, ${result.errors} errors`);
  }

  const memory = server.memory();
  const serverCpuTotal = server.cpuSeconds();
  const serverPid = server.pid;
  pool.close();
  pool = undefined;
  const exit = await server.stop();
  server = undefined;
  const ledgerText = await readFile(join(home, HomeLayout.ledger), 'utf8').catch(() => '');
  const ledgerRecords = ledgerText.length === 0 ? 0 : ledgerText.trimEnd().split('\n').length;
  const issued = warmup.ok + reports.reduce((n, r) => n + r.ok, 0);
  const loadEnd = loadavg();

  // ---- report ----
  const errorsTotal = warmup.errors + reports.reduce((n, r) => n + r.errors, 0);
  const c1 = reports.find((r) => r.concurrency === 1);
  const c16 = reports.find((r) => r.concurrency === 16);
  const c1Fraction = c1 ? c1.perSec / floor.floorPerSec : undefined;
  const targets = {
    c1FloorFraction: c1Fraction === undefined ? null : { value: c1Fraction, target: TARGET_C1_FLOOR_FRACTION, met: c1Fraction >= TARGET_C1_FLOOR_FRACTION },
    c16PerSec: c16 ? { value: c16.perSec, target: TARGET_C16_PER_SEC, met: c16.perSec >= TARGET_C16_PER_SEC } : null,
    c16P99Ms: c16 ? { value: c16.latencyMs.p99, target: TARGET_C16_P99_MS, met: c16.latencyMs.p99 <= TARGET_C16_P99_MS } : null,
  };

  const n0 = (v: number) => Math.round(v).toLocaleString('en-US');
  const ms = (v: number) => v.toFixed(2);
  const pad = (s: string, w: number) => s.padStart(w);
  const mark = (met: boolean) => (met ? 'MET' : 'MISSED');
  const out: string[] = [];
  out.push('');
  out.push(`Certify benchmark — node ${process.version} (OpenSSL ${process.versions.openssl}), ${cpus().length} CPUs (${cpus()[0]?.model.trim()})`);
  out.push(`load average at start ${loadStart.map((v) => v.toFixed(2)).join(' ')}, at end ${loadEnd.map((v) => v.toFixed(2)).join(' ')} (other work on the machine counts)`);
  out.push(`server: identity serve (CLI) as pid ${serverPid}, crypto workers ${cryptoWorkers ?? 'default'}; ledger on ${fsType(home)}; ${WORKLOADS} workloads, a token each, a fresh P-256 key per CSR`);
  out.push('');
  out.push('Raw floor (node:crypto, in-process, one core)');
  out.push(`  import SPKI + verify   ${pad(n0(floor.importVerifyPerSec), 8)} /s`);
  out.push(`  sign (P-256)           ${pad(n0(floor.signPerSec), 8)} /s`);
  out.push(`  floor (all three)      ${pad(n0(floor.floorPerSec), 8)} /s   (from the parts: ${n0(floor.floorFromPartsPerSec)} /s)`);
  out.push(`  context: ES256 JWT verify ${n0(floor.jwtVerifyPerSec)} /s; import+verify+JWT verify+sign ${n0(floor.cryptoPerRequestPerSec)} /s`);
  out.push('');
  out.push('level  requests  errors  issuances/s   p50 ms   p90 ms   p99 ms   max ms  server CPU  CPU/issuance (sys)  client CPU');
  const row = (name: string, r: LevelResult, extra?: LevelReport) =>
    `${name.padEnd(6)} ${pad(String(r.requests), 8)} ${pad(String(r.errors), 7)} ${pad(n0(r.perSec), 12)} ${pad(ms(r.latencyMs.p50), 8)} ${pad(ms(r.latencyMs.p90), 8)} ${pad(ms(r.latencyMs.p99), 8)} ${pad(ms(r.latencyMs.max), 8)}` +
    (extra
      ? `  ${pad(`${extra.serverCpuPercent.toFixed(0)}%`, 10)}  ${pad(`${n0(extra.serverCpuUsPerIssuance)} µs`, 12)} ${pad(`(${n0((extra.serverSystemSeconds * 1e6) / Math.max(1, extra.ok))})`, 6)}  ${pad(`${extra.clientCpuPercent.toFixed(0)}%`, 10)}`
      : '');
  out.push(row(`warm`, warmup) + `   (c${connections})`);
  for (const r of reports) out.push(row(`c${r.concurrency}`, r, r));
  if (errorsTotal > 0) {
    out.push(`errors: ${JSON.stringify(Object.assign({}, warmup.errorCodes, ...reports.map((r) => r.errorCodes)))}; first: ${warmup.firstError ?? reports.find((r) => r.firstError)?.firstError}`);
  }
  out.push('');
  out.push('Targets');
  if (targets.c1FloorFraction) {
    out.push(`  c1 / raw floor     ${(targets.c1FloorFraction.value * 100).toFixed(1)}% of ${n0(floor.floorPerSec)}/s   (target >= ${TARGET_C1_FLOOR_FRACTION * 100}%)   ${mark(targets.c1FloorFraction.met)}`);
  }
  if (targets.c16PerSec && targets.c16P99Ms) {
    out.push(`  c16 throughput     ${n0(targets.c16PerSec.value)}/s   (target >= ${n0(TARGET_C16_PER_SEC)}/s)   ${mark(targets.c16PerSec.met)}`);
    out.push(`  c16 p99 latency    ${ms(targets.c16P99Ms.value)} ms   (target <= ${TARGET_C16_P99_MS} ms)   ${mark(targets.c16P99Ms.met)}`);
  }
  out.push('');
  out.push(`Server process: peak RSS (VmHWM) ${(memory.peakRssBytes / 2 ** 20).toFixed(1)} MiB, RSS at ready ${(rssAtReady / 2 ** 20).toFixed(1)} MiB, at end ${(memory.rssBytes / 2 ** 20).toFixed(1)} MiB, CPU ${serverCpuTotal.toFixed(2)} s user+system (${(serverCpuTotal - serverCpuAtReady).toFixed(2)} s after ready); exit ${exit.code ?? exit.signal}`);
  out.push(`Ledger: ${ledgerRecords} records for ${issued} certificates issued${ledgerRecords === issued ? '' : '  <-- MISMATCH'}`);
  if (args.profile) {
    out.push(`Profile: server --cpu-prof in ${args.profile}; windows (monotonic µs): ${reports.map((r) => `c${r.concurrency} ${r.startUs}-${r.endUs} (${r.ok} ok)`).join(', ')}`);
  }
  process.stdout.write(`${out.join('\n')}\n\n`);

  const summary = {
    bench: 'certify',
    time: startedAt.toISOString(),
    node: process.version,
    openssl: process.versions.openssl,
    v8: process.versions.v8,
    platform: `${process.platform}-${process.arch}`,
    cpus: cpus().length,
    cpuModel: cpus()[0]?.model.trim(),
    loadavgStart: loadStart,
    loadavgEnd: loadEnd,
    server: { mode: 'cli', cryptoWorkers: cryptoWorkers === undefined ? 'default' : Number(cryptoWorkers), ledgerFs: fsType(home), peakRssBytes: memory.peakRssBytes, rssAtReadyBytes: rssAtReady, rssEndBytes: memory.rssBytes, cpuSeconds: serverCpuTotal, cpuSecondsAfterReady: serverCpuTotal - serverCpuAtReady, exit },
    workloads: WORKLOADS,
    csrsMade: total,
    csrSeconds,
    floor,
    warmup: { concurrency: connections, requests: warmup.requests, ok: warmup.ok, errors: warmup.errors, perSec: warmup.perSec },
    levels: reports.map((r) => ({
      concurrency: r.concurrency,
      requests: r.requests,
      ok: r.ok,
      errors: r.errors,
      errorCodes: r.errorCodes,
      seconds: r.seconds,
      perSec: r.perSec,
      latencyMs: r.latencyMs,
      serverCpuSeconds: r.serverCpuSeconds,
      serverSystemSeconds: r.serverSystemSeconds,
      serverCpuUsPerIssuance: r.serverCpuUsPerIssuance,
      clientCpuPercent: r.clientCpuPercent,
      windowUs: [r.startUs, r.endUs],
    })),
    errors: errorsTotal,
    ledgerRecords,
    issued,
    targets,
    profileDir: args.profile,
  };
  process.stdout.write(`${JSON.stringify(summary)}\n`);
  return errorsTotal > 0 || ledgerRecords !== issued ? 1 : 0;
}

try {
  process.exitCode = await main();
} catch (err) {
  if (!(err instanceof Interrupted)) process.stderr.write(`[bench] failed: ${(err as Error).stack ?? err}\n`);
  process.exitCode = interrupted ? 130 : 1;
} finally {
  await cleanup();
}
