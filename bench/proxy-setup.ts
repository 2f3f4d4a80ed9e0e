/**
 * The paths of bench/proxy.ts, started: stunnel (a pair with certificates from our identity service,
 * checked first by a verbose pair) and our proxy pairs (`proxy`, and `policy` with its server proxy
 * enforcing a policy), plus the TLS probe and the one-connection check they use. Every process
 * started is pushed onto the caller's list, so its cleanup stops them also when a start fails.
 */
import type { KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { connect as tlsConnect } from 'node:tls';
import { fileURLToPath } from 'node:url';
import { systemClock } from '../common/clock.ts';
import { identityName, type IdentityDomain, type ServiceAccountRef } from '../common/names.ts';
import { createCertifyClient } from '../identity/grpc/client.ts';
import { signLocalServiceAccountToken } from '../identity/validators/local-token.ts';
import { logEvent } from '../mesh/process.ts';
import { connRate, EXCHANGE_BYTES } from './proxy-load.ts';
import { freePort, issueFiles, spawnProcess, stunnelConfig, waitForPort, type BenchProcess, type IssuedFiles, type StunnelLogLevel } from './proxy-procs.ts';
import { waitForPolicy, writeBenchPolicy, type BenchPolicy } from './proxy-policy.ts';
import { MODE_ECHO } from './proxy-sink.ts';
import type { ServerProcess } from './server-process.ts';

export const ROOT = fileURLToPath(new URL('../', import.meta.url));
/** The namespace of every bench identity, and of the policy path's pod and resources. */
const BENCH_NAMESPACE = 'bench';
/** A process that died while loading its modules (a broken import elsewhere in the tree), not at run time. */
const LOAD_FAILURE = /ERR_MODULE_NOT_FOUND|Cannot find module|does not provide an export named|SyntaxError/;

export type PathName = 'direct' | 'stunnel' | 'proxy' | 'policy';
export type PairName = 'proxy' | 'policy';

export interface PathSetup {
  name: PathName;
  /** Where the client connects. */
  port: number;
  /** The two processes of the pair (none for direct). */
  pair: BenchProcess[];
  /** Connections the bench opened on this path, warm-up included (the policy path's allows must match). */
  connections: number;
}

export interface TlsFacts {
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

/** What every path's start needs: the home's files, the identity service, the sink, and where to put processes. */
export interface SetupContext {
  home: string;
  domain: IdentityDomain;
  bundleFile: string;
  bundlePem: string;
  tokenKey: KeyObject;
  logs: string;
  files: string;
  service: ServerProcess;
  sinkPort: number;
  /** Every process started is pushed here (the caller's cleanup stops them). */
  processes: BenchProcess[];
  progress: (text: string) => void;
}

const sa = (name: string): ServiceAccountRef => ({ namespace: BENCH_NAMESPACE, name });

/** stunnel, with certificates from our identity service. */
export async function startStunnel(ctx: SetupContext, stunnel: { path: string }): Promise<{ setup: PathSetup; tls: TlsFacts; probeCert: IssuedFiles }> {
  const { domain, bundleFile, bundlePem, tokenKey, logs, files, service, sinkPort, processes, progress } = ctx;
  const certify = createCertifyClient({ address: `127.0.0.1:${service.port}`, serverIdentity: service.identity, trustBundlePem: bundlePem });
  const client = await issueFiles({ client: certify, tokenKey, sa: sa('stunnel-client'), domain, dir: files, name: 'stunnel-client' });
  const server = await issueFiles({ client: certify, tokenKey, sa: sa('stunnel-server'), domain, dir: files, name: 'stunnel-server' });
  certify.close();
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
  const tls: TlsFacts = {
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
  tls.refusesWithoutClientCert = !(await tlsProbe(serverPort, { servername: server.identity, ca: bundlePem })).echoed;
  const measured = await start('warning', '');
  return { setup: { name: 'stunnel', port: clientPort, pair: measured, connections: 0 }, tls, probeCert: client };
}

type Ports = { inbound: number; admin: number; outbound: number[] };

export interface ProxyPairs {
  /** The pairs started, `proxy` before `policy`. */
  setups: PathSetup[];
  /** How the proxies were started in the end (auto may have fallen back to direct). */
  proxyEntry: 'cli' | 'direct';
  notes: string[];
  /** What the TLS probe of the `proxy` pair's server proxy saw (when a probe certificate was given). */
  tls?: TlsFacts;
  pairPorts: Partial<Record<PairName, { client: Ports; server: Ports }>>;
  benchPolicy?: BenchPolicy;
  decisionLogFile: string;
}

/** Our proxy pairs: `proxy` (no policy) and `policy` (the same pair, the server proxy enforcing a policy). */
export async function startProxyPairs(
  ctx: SetupContext,
  o: { paths: PathName[]; requestedEntry: string; profile?: string; nodeFlags?: string; probeCert?: IssuedFiles },
): Promise<ProxyPairs> {
  const { home, domain, bundleFile, bundlePem, tokenKey, logs, files, service, sinkPort, processes, progress } = ctx;
  const { paths, probeCert } = o;
  const setups: PathSetup[] = [];
  let tls: TlsFacts | undefined;
  let proxyEntry: 'cli' | 'direct' = o.requestedEntry === 'direct' ? 'direct' : 'cli';
  const notes: string[] = [];
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
      ...(o.profile ? ['--cpu-prof', '--cpu-prof-dir', join(o.profile, pair === 'proxy' ? role : `${pair}-${role}`)] : []),
      ...(o.nodeFlags ? o.nodeFlags.split(' ').filter(Boolean) : []),
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
        if (o.requestedEntry !== 'auto' || proxyEntry !== 'cli' || !LOAD_FAILURE.test(log)) throw err;
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
        tls = { source: `a node ${process.version} TLS client with default settings (as the outbound proxy), to the inbound proxy`, protocol: good.protocol, cipher: good.cipher, group: good.group, refusesWithoutClientCert: !bad.echoed, peerIdentity: ids.server };
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
  return { setups, proxyEntry, notes, tls, pairPorts, benchPolicy, decisionLogFile };
}

function firstLine(log: string): string {
  return (log.split('\n').find((l) => LOAD_FAILURE.test(l)) ?? 'load error').trim().slice(0, 160);
}

export async function connectOnce(port: number): Promise<void> {
  const r = await connRate(port, 1, 1, 10);
  if (r.ok !== 1) throw new Error(`a connection through 127.0.0.1:${port} failed: ${r.firstError}`);
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
