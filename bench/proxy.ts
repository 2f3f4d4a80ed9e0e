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
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect as tlsConnect } from 'node:tls';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { systemClock } from '../common/clock.ts';
import { defaultIdentityDomain, identityName, type ServiceAccountRef } from '../common/names.ts';
import { createCertifyClient } from '../identity/grpc/client.ts';
import { signLocalServiceAccountToken } from '../identity/validators/local-token.ts';
import { logEvent } from '../mesh/process.ts';
import { HomeLayout } from '../trust-anchors/directory-store.ts';
import { initHome } from '../trust-anchors/home.ts';
import { bulk, connRate, EXCHANGE_BYTES, median, pingPong, type BulkResult, type ConnRateResult, type PingPongResult } from './proxy-load.ts';
import { ensureStunnel, freePort, issueFiles, spawnProcess, stunnelConfig, waitForPort, type BenchProcess, type IssuedFiles, type ProcStats, type StunnelLogLevel } from './proxy-procs.ts';
import { verifyEnforcement, waitForPolicy, writeBenchPolicy, type BenchPolicy, type EnforcementFacts } from './proxy-policy.ts';
import { MODE_ECHO } from './proxy-sink.ts';
import { startServerProcess, type ServerProcess } from './server-process.ts';

const ROOT = fileURLToPath(new URL('../', import.meta.url));
const TARGET_BULK_VS_STUNNEL = 1.5;
const TARGET_CONNS_VS_STUNNEL = 2;
const TARGET_PEAK_RSS_BYTES = 64 * 2 ** 20;
/** The namespace of every bench identity, and of the policy path's pod and resources. */
const BENCH_NAMESPACE = 'bench';

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

type PathName = 'direct' | 'stunnel' | 'proxy' | 'policy';
type PairName = 'proxy' | 'policy';
type Phase = 'bulk' | 'rtt' | 'seq' | 'conc';
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
/** A process that died while loading its modules (a broken import elsewhere in the tree), not at run time. */
const LOAD_FAILURE = /ERR_MODULE_NOT_FOUND|Cannot find module|does not provide an export named|SyntaxError/;

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

interface PathSetup {
  name: PathName;
  /** Where the client connects. */
  port: number;
  /** The two processes of the pair (none for direct). */
  pair: BenchProcess[];
  /** Connections the bench opened on this path, warm-up included (the policy path's allows must match). */
  connections: number;
}

interface Measurement<T> {
  round: number;
  result: T;
  /** CPU seconds the pair's processes used during the measurement, client side then server side. */
  pairCpuSeconds: number[];
  sinkCpuSeconds: number;
}

interface TlsFacts {
  protocol?: string;
  cipher?: string;
  group?: string;
  source: string;
  /** Sessions resumed out of the connections looked at (stunnel's log); must be 0. */
  resumed?: string;
  /** The server refused a client without a certificate. */
  refusesWithoutClientCert?: boolean;
  peerIdentity?: string;
}

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

  const sa = (name: string): ServiceAccountRef => ({ namespace: BENCH_NAMESPACE, name });
  const tls: Partial<Record<'stunnel' | 'proxy', TlsFacts>> = {};
  let probeCert: IssuedFiles | undefined;

  // ---- stunnel, with certificates from our identity service ----
  if (stunnel) {
    const certify = createCertifyClient({ address: `127.0.0.1:${identityServer.port}`, serverIdentity: identityServer.identity, trustBundlePem: bundlePem });
    const client = await issueFiles({ client: certify, tokenKey, sa: sa('stunnel-client'), domain, dir: files, name: 'stunnel-client' });
    const server = await issueFiles({ client: certify, tokenKey, sa: sa('stunnel-server'), domain, dir: files, name: 'stunnel-server' });
    certify.close();
    probeCert = client;
    progress(`issued ${client.identity} and ${server.identity} for stunnel`);
    const serverPort = await freePort();
    const clientPort = await freePort();
    const start = async (level: StunnelLogLevel, tag: string) => {
      const config = (role: 'client' | 'server') =>
        stunnelConfig({
          role,
          accept: role === 'client' ? clientPort : serverPort,
          connect: role === 'client' ? serverPort : sinkPort,
          certFile: role === 'client' ? client.certFile : server.certFile,
          keyFile: role === 'client' ? client.keyFile : server.keyFile,
          caFile: bundleFile,
          ...(role === 'client' ? { peerIdentity: server.identity } : {}),
          logLevel: level,
        });
      const pair: BenchProcess[] = [];
      for (const role of ['server', 'client'] as const) {
        const file = join(files, `stunnel-${role}${tag}.conf`);
        await writeFile(file, config(role), { mode: 0o600 });
        const p = spawnProcess(`stunnel ${role}`, stunnel.path, [file], join(logs, `stunnel-${role}${tag}.log`));
        processes.push(p);
        pair.push(p);
        await waitForPort(role === 'client' ? clientPort : serverPort, 10_000, () => !p.running());
      }
      return pair.reverse(); // client side first
    };
    // A first pair logs at info level for a few connections: what TLS 1.3 negotiated, that both
    // certificates were verified and that no session was resumed. Then the measured pair, quiet.
    const verbose = await start('info', '-check');
    for (let i = 0; i < 3; i++) await connectOnce(clientPort);
    await Promise.all(verbose.map((p) => p.stop()));
    processes.splice(0, processes.length, ...processes.filter((p) => !verbose.includes(p)));
    const serverLog = await readFile(verbose[1]!.logFile, 'utf8');
    const clientLog = await readFile(verbose[0]!.logFile, 'utf8');
    tls.stunnel = {
      source: "stunnel's own log (info level, 3 connections)",
      protocol: /(TLSv1\.\d) ciphersuite/.exec(clientLog)?.[1],
      cipher: /ciphersuite: (\S+)/.exec(clientLog)?.[1],
      group: /Peer temporary key: ([^\n]+)/.exec(clientLog)?.[1]?.trim(),
      resumed: `${(clientLog.match(/previous session reused/g) ?? []).length}/${(clientLog.match(/TLS connected/g) ?? []).length}`,
      peerIdentity: server.identity,
    };
    const clientVerified = /Certificate accepted at depth=0/.test(serverLog);
    const serverVerified = /Certificate accepted at depth=0/.test(clientLog);
    if (!clientVerified || !serverVerified) throw new Error(`stunnel did not log both certificate verifications (client ${clientVerified}, server ${serverVerified}); see ${logs}`);
    tls.stunnel.refusesWithoutClientCert = !(await tlsProbe(serverPort, { servername: server.identity, ca: bundlePem })).echoed;
    const measured = await start('warning', '');
    setups.push({ name: 'stunnel', port: clientPort, pair: measured, connections: 0 });
  }

  // ---- our proxy pairs: `proxy` (no policy) and `policy` (the same pair, the server proxy enforcing a policy) ----
  let proxyEntry: 'cli' | 'direct' = args['proxy-entry'] === 'direct' ? 'direct' : 'cli';
  const notes: string[] = [];
  type Ports = { inbound: number; admin: number; outbound: number[] };
  const pairPorts: Partial<Record<PairName, { client: Ports; server: Ports }>> = {};
  const decisionLogFile = join(home, 'decisions', 'policy-server.jsonl');
  let benchPolicy: BenchPolicy | undefined;
  const pairs = (['proxy', 'policy'] as const).filter((p) => paths.includes(p));
  if (pairs.length) {
    const entry = () => (proxyEntry === 'cli' ? [join(ROOT, 'bin/identity.mjs'), 'proxy'] : [join(ROOT, 'bin/run-ts.mjs'), join(ROOT, 'bench/proxy-direct.ts')]);
    // Both pairs run as the same two identities, bench/proxy-client and bench/proxy-server.
    const ids = { client: identityName(sa('proxy-client'), domain), server: identityName(sa('proxy-server'), domain) };
    for (const role of ['client', 'server'] as const) {
      const token = await signLocalServiceAccountToken({ signingKey: tokenKey, serviceAccount: sa(`proxy-${role}`), trustDomain: domain.trustDomain, ttlMs: 3_600_000, clock: systemClock });
      await writeFile(join(files, `${role}.token`), token, { mode: 0o600 });
    }
    const proxyArgs = (pair: PairName, role: 'client' | 'server', extra: string[]) => [
      ...(args.profile ? ['--cpu-prof', '--cpu-prof-dir', join(args.profile, pair === 'proxy' ? role : `${pair}-${role}`)] : []),
      ...(args['proxy-node-flags'] ? args['proxy-node-flags'].split(' ').filter(Boolean) : []),
      ...entry(), '--local-identity', ids[role], '--token-file', join(files, `${role}.token`), '--trust-bundle', bundleFile,
      '--identity-addr', `127.0.0.1:${service.port}`, '--identity-name', service.identity, '--inbound-listen', '127.0.0.1:0',
      '--app', `127.0.0.1:${sinkPort}`, '--admin-listen', '127.0.0.1:0', ...extra,
    ];
    /**
     * One pair, server first, `serverExtra` added to the server proxy's flags. With --proxy-entry
     * auto, a server that dies loading its modules switches every proxy to bench/proxy-direct.ts;
     * a pair that needs the CLI (policy flags) is then left out: undefined.
     */
    const startPair = async (pair: PairName, serverExtra: string[], needsCli: boolean): Promise<PathSetup | undefined> => {
      if (needsCli && proxyEntry === 'direct') {
        notes.push(`the ${pair} path was not measured: it needs \`identity proxy\` (bench/proxy-direct.ts takes no policy flags)`);
        progress(notes.at(-1)!);
        return undefined;
      }
      const spawnServer = (suffix: string) => spawnProcess(`${pair} server`, process.execPath, proxyArgs(pair, 'server', serverExtra), join(logs, `${pair}-server${suffix}.log`));
      let server = spawnServer('');
      processes.push(server);
      let serverPorts: Ports;
      try {
        serverPorts = await server.waitForLine(logEvent('proxy.ready', (r) => r.ports as Ports));
      } catch (err) {
        const log = server.recentLog().join('\n');
        if (args['proxy-entry'] !== 'auto' || proxyEntry !== 'cli' || !LOAD_FAILURE.test(log)) throw err;
        proxyEntry = 'direct';
        notes.push(`the CLI does not load (${firstLine(log)}); proxies started through bench/proxy-direct.ts`);
        progress(notes.at(-1)!);
        if (needsCli) return startPair(pair, serverExtra, needsCli);
        server = spawnServer('-direct');
        processes.push(server);
        serverPorts = await server.waitForLine(logEvent('proxy.ready', (r) => r.ports as Ports));
      }
      const client = spawnProcess(`${pair} client`, process.execPath, proxyArgs(pair, 'client', ['--outbound', `127.0.0.1:0,127.0.0.1:${serverPorts.inbound},${ids.server}`]), join(logs, `${pair}-client.log`));
      processes.push(client);
      const clientPorts = await client.waitForLine(logEvent('proxy.ready', (r) => r.ports as Ports));
      progress(`${pair} pair ready: client pid ${client.pid} outbound :${clientPorts.outbound[0]}, server pid ${server.pid} inbound :${serverPorts.inbound} admin :${serverPorts.admin}`);
      pairPorts[pair] = { client: clientPorts, server: serverPorts };
      return { name: pair, port: clientPorts.outbound[0]!, pair: [client, server], connections: 0 };
    };

    if (paths.includes('proxy')) {
      const setup = await startPair('proxy', [], false);
      setups.push(setup!);
      const inbound = pairPorts.proxy!.server.inbound;
      if (probeCert) {
        const good = await tlsProbe(inbound, { servername: ids.server, ca: bundlePem, cert: readFileSync(probeCert.certFile, 'utf8'), key: readFileSync(probeCert.keyFile, 'utf8') });
        const bad = await tlsProbe(inbound, { servername: ids.server, ca: bundlePem });
        if (!good.echoed) throw new Error(`TLS probe of the server proxy failed: ${good.error}`);
        tls.proxy = { source: `a node ${process.version} TLS client with default settings (as the outbound proxy), to the inbound proxy`, protocol: good.protocol, cipher: good.cipher, group: good.group, refusesWithoutClientCert: !bad.echoed, peerIdentity: ids.server };
      }
    }
    if (paths.includes('policy')) {
      // No TLS probe here: the probe's identity would be denied, and the run must see no deny.
      benchPolicy = await writeBenchPolicy({ dir: join(home, 'policy'), namespace: BENCH_NAMESPACE, serverSa: 'proxy-server', clientSa: 'proxy-client', sinkPort, domain });
      for (const note of benchPolicy.notes) progress(`policy note: ${note}`);
      const setup = await startPair('policy', ['--pod', benchPolicy.pod, '--policy-dir', benchPolicy.dir, '--default-policy', 'deny', '--decision-log', decisionLogFile], true);
      if (setup) {
        await waitForPolicy(pairPorts.policy!.server.admin);
        progress(`policy pair: ${benchPolicy.pod} enforces ${benchPolicy.dir} (default deny), decision log ${decisionLogFile}`);
        setups.push(setup);
      }
    }
  }
  const proxyNote = notes.join('; ');
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

  return report({ startedAt, loadStart, loadEnd, stunnelVersion: stunnel?.version, proxyEntry, proxyNote, tls, results, memory, rssAfterWarmup, windows, proxyWarnings, policyWarnings, enforcement });
}

function firstLine(log: string): string {
  return (log.split('\n').find((l) => LOAD_FAILURE.test(l)) ?? 'load error').trim().slice(0, 160);
}

function describe(phase: Phase, r: BulkResult | PingPongResult | ConnRateResult): string {
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

async function connectOnce(port: number): Promise<void> {
  const r = await connRate(port, 1, 1, 10);
  if (r.ok !== 1) throw new Error(`a connection through 127.0.0.1:${port} failed: ${r.firstError}`);
}

async function countWarnings(files: string[]): Promise<number> {
  let n = 0;
  for (const file of files) {
    for (const line of (await readFile(file, 'utf8').catch(() => '')).split('\n')) if (/"level":(4|5|6)\d/.test(line)) n++;
  }
  return n;
}

/**
 * One TLS connection with node's default client settings and a 64-byte echo: what was
 * negotiated, and whether the server answered (a server that requires a client certificate
 * refuses a client without one after the handshake, in TLS 1.3).
 */
function tlsProbe(port: number, o: { servername: string; ca: string; cert?: string; key?: string }): Promise<{ echoed: boolean; protocol?: string; cipher?: string; group?: string; error?: string }> {
  return new Promise((resolve) => {
    const socket = tlsConnect({ host: '127.0.0.1', port, servername: o.servername, ca: o.ca, ...(o.cert ? { cert: o.cert, key: o.key } : {}), minVersion: 'TLSv1.3' });
    let got = 0;
    let facts: { protocol?: string; cipher?: string; group?: string } = {};
    const finish = (echoed: boolean, error?: string) => {
      clearTimeout(timer);
      socket.destroy();
      resolve({ echoed, ...facts, ...(error ? { error } : {}) });
    };
    const timer = setTimeout(() => finish(false, 'timeout'), 5_000);
    socket.once('secureConnect', () => {
      const key = socket.getEphemeralKeyInfo() as { name?: string; size?: number } | null;
      facts = { protocol: socket.getProtocol() ?? undefined, cipher: socket.getCipher()?.name, group: key?.name ? `${key.name}${key.size ? `, ${key.size} bits` : ''}` : undefined };
      const ping = Buffer.alloc(EXCHANGE_BYTES, 0x2e);
      ping[0] = MODE_ECHO;
      socket.write(ping);
    });
    socket.on('data', (d: Buffer) => {
      got += d.length;
      if (got >= EXCHANGE_BYTES) finish(true);
    });
    socket.once('error', (err) => finish(false, err.message));
    socket.once('close', () => finish(false, 'closed'));
  });
}

interface ReportInput {
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
}

function report(input: ReportInput): number {
  const { results } = input;
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
  if (args.profile) {
    out.push('');
    out.push(`Profiles: ${args.profile}/{client,server}/*.cpuprofile (policy pair: ${args.profile}/{policy-client,policy-server}); proxy windows (monotonic µs, for bench/profile-summary.ts --window):`);
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
    profileDir: args.profile,
    policyEnforcement: input.enforcement,
  };
  process.stdout.write(`${JSON.stringify(summary)}\n`);
  return errors > 0 ? 1 : 0;
}

try {
  process.exitCode = await main();
} catch (err) {
  if (!interrupted) process.stderr.write(`[bench] failed: ${(err as Error).stack ?? err}\n`);
  process.exitCode = interrupted ? 130 : 1;
} finally {
  await cleanup();
}
