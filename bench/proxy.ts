/**
 * Proxy benchmark: the same load through four paths, all on 127.0.0.1 with ephemeral ports,
 * ending at one sink/echo server (bench/proxy-sink.ts, its own process):
 *
 *   direct    client ─────────────────────────────────────────────────────────────> sink
 *   stunnel   client ──> stunnel (client) ══ mTLS 1.3 ══> stunnel (server) ───────> sink
 *   proxy     client ──> identity proxy (outbound) ══ mTLS 1.3 ══> identity proxy (inbound) ──> sink
 *   policy    the proxy pair again, its server proxy enforcing a policy and writing a decision log:
 *             --pod bench/server --policy-dir DIR --default-policy deny --decision-log FILE
 *             (bench/proxy-policy.ts: a Server on the sink's port and an AuthorizationPolicy
 *             admitting the client proxy's identity), so every connection is decided and logged
 *
 * The TLS pairs use certificates issued by our identity service (identity serve, a process of
 * its own), ECDSA P-256, TLS 1.3 only, the client's certificate required and verified, the server's
 * identity checked exactly, no session resumption: the same cryptographic work per connection.
 * The `policy/proxy` column is the cost of enforcement and the decision log, measured in the same
 * run. At the end the policy server proxy's /metrics must show one allow per connection the bench
 * made on that path (by the bench's AuthorizationPolicy), no deny, and its decision log lines, or
 * the run fails; dropped decision records are reported as a figure.
 *
 *   npm run bench:proxy                                   # Node 20
 *   npx -y node@24 bin/run-ts.mjs bench/proxy.ts          # Node 24 (proxies run on the same node)
 *
 * Options: --bulk-mib N (1024)  --bulk-seconds S (20, bound per bulk run)
 *          --pings N (5000)  --ping-warmup N (500)
 *          --conns N (1000, sequential)  --conns-concurrent N (4000)  --concurrency C (16)
 *          --conn-seconds S (10, bound per connection run)
 *          --rounds R (3; the table shows the median round, the JSON every round)
 *          --phases bulk,rtt,seq,conc  --paths direct,stunnel,proxy,policy  --quick (a fifth of the work)
 *          --profile DIR   run the proxies with --cpu-prof into DIR/{client,server} (the policy
 *                          pair: DIR/{policy-client,policy-server}); the measurement windows are
 *                          printed (bench/profile-summary.ts --window)
 *          --proxy-node-flags="FLAGS"  extra node flags for every proxy (e.g. --proxy-node-flags=--trace-gc)
 *          --proxy-entry auto|cli|direct   how the proxies start: `identity proxy` (cli), or
 *                          bench/proxy-direct.ts (the same config and startProxy without the CLI's
 *                          other commands); auto: the CLI, or direct when the CLI does not load.
 *                          bench/proxy-direct.ts takes no policy flags: with direct the default
 *                          --paths leave policy out and asking for it is an error; when auto falls
 *                          back, the policy path is left out with a note
 *          --tmp DIR  --keep-home
 *
 * stunnel comes from Debian's stunnel4 package; when absent it is installed with apt-get (root).
 * Prints a table, then as its last line one JSON object with every figure. Exit status 1 if the
 * run broke or a load had errors; missed targets are reported, not fatal.
 */
import { createPrivateKey } from 'node:crypto';
import { readFileSync, rmSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { systemClock } from '../common/clock.ts';
import { defaultIdentityDomain } from '../common/names.ts';
import { logEvent } from '../mesh/process.ts';
import { HomeLayout } from '../trust-anchors/directory-store.ts';
import { initHome } from '../trust-anchors/home.ts';
import { bulk, connRate, pingPong, type BulkResult, type ConnRateResult, type PingPongResult } from './proxy-load.ts';
import { ensureStunnel, spawnProcess, type BenchProcess, type IssuedFiles, type ProcStats } from './proxy-procs.ts';
import { verifyEnforcement, type EnforcementFacts } from './proxy-policy.ts';
import { countWarnings, describe, report, type Measurement, type Phase } from './proxy-report.ts';
import { connectOnce, ROOT, startProxyPairs, startStunnel, type PairName, type PathName, type PathSetup, type SetupContext, type TlsFacts } from './proxy-setup.ts';
import { startServerProcess, type ServerProcess } from './server-process.ts';

const { values: args } = parseArgs({
  options: {
    'bulk-mib': { type: 'string', default: '1024' },
    'bulk-seconds': { type: 'string', default: '20' },
    pings: { type: 'string', default: '5000' },
    'ping-warmup': { type: 'string', default: '500' },
    conns: { type: 'string', default: '1000' },
    'conns-concurrent': { type: 'string', default: '4000' },
    concurrency: { type: 'string', default: '16' },
    'conn-seconds': { type: 'string', default: '10' },
    rounds: { type: 'string', default: '3' },
    phases: { type: 'string', default: 'bulk,rtt,seq,conc' },
    paths: { type: 'string' }, // default below: direct,stunnel,proxy,policy
    quick: { type: 'boolean', default: false },
    profile: { type: 'string' },
    'proxy-node-flags': { type: 'string' },
    'proxy-entry': { type: 'string', default: 'auto' },
    tmp: { type: 'string' },
    'keep-home': { type: 'boolean', default: false },
  },
});

const scale = args.quick ? 0.2 : 1;
const count = (text: string) => Math.max(1, Math.round(Number(text) * scale));
const bulkBytes = count(args['bulk-mib']) * 2 ** 20;
const bulkSeconds = Number(args['bulk-seconds']);
const pings = count(args.pings);
const pingWarmup = count(args['ping-warmup']);
const seqConns = count(args.conns);
const concConns = count(args['conns-concurrent']);
const concurrency = Number(args.concurrency);
const connSeconds = Number(args['conn-seconds']);
const rounds = Number(args.rounds);
const phases = args.phases.split(',') as Phase[];
// bench/proxy-direct.ts takes no policy flags: --proxy-entry direct leaves policy out of the default paths.
const pathsText = args.paths ?? (args['proxy-entry'] === 'direct' ? 'direct,stunnel,proxy' : 'direct,stunnel,proxy,policy');
const paths = pathsText.split(',') as PathName[];
if (phases.some((p) => !['bulk', 'rtt', 'seq', 'conc'].includes(p))) throw new Error(`--phases "${args.phases}": expected bulk, rtt, seq, conc`);
if (paths.some((p) => !['direct', 'stunnel', 'proxy', 'policy'].includes(p))) throw new Error(`--paths "${pathsText}": expected direct, stunnel, proxy, policy`);
if (!Number.isInteger(rounds) || rounds < 1) throw new Error('--rounds must be a positive integer');
if (!['auto', 'cli', 'direct'].includes(args['proxy-entry'])) throw new Error('--proxy-entry must be auto, cli or direct');
if (args['proxy-entry'] === 'direct' && paths.includes('policy')) throw new Error('--proxy-entry direct: bench/proxy-direct.ts takes no policy flags; leave policy out of --paths');

// ---- cleanup, also on failure and on signals ----
let home: string | undefined;
let identityServer: ServerProcess | undefined;
const processes: BenchProcess[] = [];
let cleaning: Promise<void> | undefined;
let interrupted = false;
class Interrupted extends Error {}
function cleanup(): Promise<void> {
  cleaning ??= (async () => {
    // Proxies first (SIGTERM: a clean exit, so --cpu-prof writes its profile), the service last.
    await Promise.all([...processes].reverse().map((p) => p.stop().catch(() => undefined)));
    await identityServer?.stop().catch(() => undefined);
    if (home && !args['keep-home']) await rm(home, { recursive: true, force: true });
  })();
  return cleaning;
}
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    interrupted = true;
    process.stderr.write(`\n${signal}: stopping every process and removing ${home ?? 'nothing'}\n`);
    void cleanup().finally(() => process.exit(130));
  });
}
process.once('exit', () => {
  for (const p of processes) p.killNow();
  identityServer?.killNow();
  if (home && !args['keep-home']) rmSync(home, { recursive: true, force: true });
});
const progress = (text: string) => process.stderr.write(`[bench] ${text}\n`);
const checkInterrupted = () => {
  if (interrupted) throw new Interrupted();
};

async function main(): Promise<number> {
  const startedAt = new Date();
  const loadStart = loadavg();
  const stunnel = paths.includes('stunnel') ? ensureStunnel(progress) : undefined;
  if (stunnel) progress(`stunnel ${stunnel.version} at ${stunnel.path}${stunnel.installed ? ' (just installed)' : ''}`);

  home = await mkdtemp(join(args.tmp ?? tmpdir(), 'proxy-bench-'));
  const domain = defaultIdentityDomain;
  progress(`home ${home}`);
  await initHome({ home, domain, anchorLifetimeMs: 365 * 86_400_000, issuerLifetimeMs: 180 * 86_400_000, force: false, clock: systemClock });
  const bundleFile = join(home, HomeLayout.bundle);
  const bundlePem = readFileSync(bundleFile, 'utf8');
  const tokenKey = createPrivateKey(await readFile(join(home, HomeLayout.tokenKey), 'utf8'));
  const logs = join(home, 'logs');
  const files = join(home, 'files');
  await mkdir(logs, { mode: 0o700 });
  await mkdir(files, { mode: 0o700 });

  // ---- the identity service ----
  identityServer = await startServerProcess({ home });
  const service = identityServer;
  progress(`identity service pid ${service.pid} on 127.0.0.1:${identityServer.port} (${identityServer.identity})`);

  // ---- the sink ----
  const sink = spawnProcess('sink', process.execPath, [join(ROOT, 'bin/run-ts.mjs'), join(ROOT, 'bench/proxy-sink.ts'), '127.0.0.1:0'], join(logs, 'sink.log'));
  processes.push(sink);
  const sinkPort = await sink.waitForLine(logEvent('sink.listening', (r) => Number(r.port)));
  const setups: PathSetup[] = [{ name: 'direct', port: sinkPort, pair: [], connections: 0 }];
  const ctx: SetupContext = { home, domain, bundleFile, bundlePem, tokenKey, logs, files, service, sinkPort, processes, progress };
  const tls: Partial<Record<'stunnel' | 'proxy', TlsFacts>> = {};
  let probeCert: IssuedFiles | undefined;

  // ---- stunnel, with certificates from our identity service ----
  if (stunnel) {
    const started = await startStunnel(ctx, stunnel);
    tls.stunnel = started.tls;
    probeCert = started.probeCert;
    setups.push(started.setup);
  }

  // ---- our proxy pairs: `proxy` (no policy) and `policy` (the same pair, the server proxy enforcing a policy) ----
  const pairs = await startProxyPairs(ctx, { paths, requestedEntry: args['proxy-entry'], profile: args.profile, nodeFlags: args['proxy-node-flags'], probeCert });
  if (pairs.tls) tls.proxy = pairs.tls;
  setups.push(...pairs.setups);
  const { proxyEntry, pairPorts, benchPolicy, decisionLogFile } = pairs;
  const proxyNote = pairs.notes.join('; ');
  const active = setups.filter((s) => paths.includes(s.name));

  // ---- warm-up: every path carries each load once (JIT, connection pools, page cache) ----
  for (const s of active) {
    checkInterrupted();
    s.connections += 1;
    await connectOnce(s.port);
    const r = await connRate(s.port, concurrency, 200, 10);
    s.connections += r.ok + r.errors + 2; // and one each for the ping-pong and the bulk run
    await pingPong(s.port, 200, 100);
    await bulk(s.port, 64 * 2 ** 20, 10);
  }
  const rssAfterWarmup = Object.fromEntries(active.filter((s) => s.pair.length).map((s) => [s.name, s.pair.map((p) => p.stats().rssBytes)]));
  progress('warm-up done');

  // ---- the rounds: phases in order, the paths' order rotating from round to round ----
  const results = {
    bulk: new Map<PathName, Measurement<BulkResult>[]>(),
    rtt: new Map<PathName, Measurement<PingPongResult>[]>(),
    seq: new Map<PathName, Measurement<ConnRateResult>[]>(),
    conc: new Map<PathName, Measurement<ConnRateResult>[]>(),
  };
  const windows: Array<{ round: number; phase: Phase; path: PathName; windowUs: [number, number] }> = [];
  for (let round = 1; round <= rounds; round++) {
    const order = active.map((_, i) => active[(i + round - 1) % active.length]!);
    for (const phase of phases) {
      for (const s of order) {
        checkInterrupted();
        const before = s.pair.map((p) => p.stats().cpuSeconds);
        const sinkBefore = sink.stats().cpuSeconds;
        let result: BulkResult | PingPongResult | ConnRateResult;
        if (phase === 'bulk') result = await bulk(s.port, bulkBytes, bulkSeconds);
        else if (phase === 'rtt') result = await pingPong(s.port, pings, pingWarmup);
        else if (phase === 'seq') result = await connRate(s.port, 1, seqConns, connSeconds);
        else result = await connRate(s.port, concurrency, concConns, connSeconds);
        s.connections += phase === 'seq' || phase === 'conc' ? (result as ConnRateResult).ok + (result as ConnRateResult).errors : 1;
        const m = { round, result, pairCpuSeconds: s.pair.map((p, i) => p.stats().cpuSeconds - before[i]!), sinkCpuSeconds: sink.stats().cpuSeconds - sinkBefore };
        const list = (results[phase] as Map<PathName, Measurement<typeof result>[]>).get(s.name) ?? [];
        list.push(m);
        (results[phase] as Map<PathName, Measurement<typeof result>[]>).set(s.name, list);
        windows.push({ round, phase, path: s.name, windowUs: result.windowUs });
        progress(`round ${round} ${phase.padEnd(4)} ${s.name.padEnd(7)} ${describe(phase, result)}`);
      }
    }
  }

  // ---- memory, then stop ----
  const memory = Object.fromEntries(
    active.filter((s) => s.pair.length).map((s) => [s.name, s.pair.map((p) => ({ name: p.name, pid: p.pid, ...p.stats() }))]),
  ) as Partial<Record<PathName, Array<ProcStats & { name: string; pid: number }>>>;
  const loadEnd = loadavg();
  const warningsOf = async (name: PairName) => {
    const logFiles = active.find((s) => s.name === name)?.pair.map((p) => p.logFile) ?? [];
    return logFiles.length ? await countWarnings(logFiles) : undefined;
  };
  const proxyWarnings = await warningsOf('proxy');
  const policyWarnings = await warningsOf('policy');
  // ---- the policy path measured enforcement: one allow per connection, no deny, logged (else this throws) ----
  const policySetup = active.find((s) => s.name === 'policy');
  let enforcement: EnforcementFacts | undefined;
  if (policySetup && benchPolicy) {
    enforcement = await verifyEnforcement({ adminPort: pairPorts.policy!.server.admin, connections: policySetup.connections, decisionLog: decisionLogFile, policy: benchPolicy });
    progress(
      `policy path: ${enforcement.allowed} allows for ${enforcement.connections} connections, ${enforcement.denied} denies; decision log ${enforcement.decisionLogLines} lines ` +
        `(${enforcement.decisionLogRecords} records written, ${enforcement.decisionLogDropped} dropped)`,
    );
  }
  await cleanup();
  return report({
    startedAt, loadStart, loadEnd, stunnelVersion: stunnel?.version, proxyEntry, proxyNote, tls, results, memory, rssAfterWarmup, windows, proxyWarnings, policyWarnings, enforcement,
    settings: { bulkBytes, bulkSeconds, pings, pingWarmup, seqConns, concConns, concurrency, connSeconds, rounds, phases, paths },
    profileDir: args.profile,
  });
}

try {
  process.exitCode = await main();
} catch (err) {
  if (!interrupted) process.stderr.write(`[bench] failed: ${(err as Error).stack ?? err}\n`);
  process.exitCode = interrupted ? 130 : 1;
} finally {
  await cleanup();
}
