/**
 * Processes and credentials for the proxy benchmark: child processes with their logs in files and
 * their memory and CPU read from /proc, stunnel (installed with apt-get when absent), and
 * certificates issued by our identity service for stunnel, written as PEM files (0600).
 */
import { spawnSync, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { join } from 'node:path';
import { spawnManaged } from '../mesh/process.ts';
import { X509Certificate, type KeyObject } from 'node:crypto';
import { systemClock } from '../common/clock.ts';
import { identityName, type IdentityDomain, type ServiceAccountRef } from '../common/names.ts';
import { buildCsr } from '../identity/csr-builder.ts';
import type { CertifyClient } from '../identity/grpc/client.ts';
import { signLocalServiceAccountToken } from '../identity/validators/local-token.ts';
import { generateP256KeyPair, privateKeyToPem } from '../trust-anchors/keys.ts';
import { encodePem } from '../trust-anchors/pem.ts';

const TICKS_PER_SECOND = 100; // USER_HZ

export interface ProcStats {
  /** VmHWM: the peak resident set, bytes. */
  peakRssBytes: number;
  /** VmRSS, bytes. */
  rssBytes: number;
  /** user + system CPU seconds of all threads so far. */
  cpuSeconds: number;
}

export function procStats(pid: number): ProcStats {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kib = (key: string) => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN) * 1024;
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // After the command name: utime is field 14 and stime 15 (1-based, man proc); they cover every thread.
  const cpuSeconds = (Number(fields[11]) + Number(fields[12])) / TICKS_PER_SECOND;
  return { peakRssBytes: kib('VmHWM'), rssBytes: kib('VmRSS'), cpuSeconds };
}

export interface BenchProcess {
  name: string;
  pid: number;
  child: ChildProcess;
  logFile: string;
  /** Resolves with the first output line (stdout or stderr) for which `match` returns a value. */
  waitForLine<T>(match: (line: string) => T | undefined, timeoutMs?: number): Promise<T>;
  stats(): ProcStats;
  /** The stats read last while the process was alive (kept after it exits). */
  lastStats(): ProcStats | undefined;
  running(): boolean;
  /** SIGTERM, then SIGKILL after `graceMs`. */
  stop(graceMs?: number): Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Synchronous last resort, for the process 'exit' handler. */
  killNow(): void;
  recentLog(): string[];
}

/** The local mesh's managed process (log file, readiness lines), plus /proc figures. */
export function spawnProcess(name: string, command: string, args: string[], logFile: string): BenchProcess {
  const managed = spawnManaged(name, command, args, logFile);
  let exited = false;
  void managed.exit.then(() => (exited = true));
  let last: ProcStats | undefined;
  const handle: BenchProcess = {
    name,
    pid: managed.child.pid ?? -1,
    child: managed.child,
    logFile,
    waitForLine: (match, timeoutMs) => managed.waitForLine(match, timeoutMs),
    stats() {
      last = procStats(handle.pid);
      return last;
    },
    lastStats: () => last,
    running: () => !exited,
    async stop(graceMs = 10_000) {
      if (!exited) {
        try {
          handle.stats(); // the last figures, while it is still there to read
        } catch {
          // already gone
        }
      }
      await managed.stop(graceMs);
      return managed.exit;
    },
    killNow() {
      if (!exited) managed.child.kill('SIGKILL');
    },
    recentLog: () => managed.recentLog(),
  };
  return handle;
}

/** A free port on 127.0.0.1 for programs that cannot report an ephemeral one (stunnel). */
export { freePort } from '../mesh/process.ts';

/** Resolves once a TCP connect to the port succeeds (the connection is closed at once). */
export async function waitForPort(port: number, timeoutMs: number, gone: () => boolean): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const s = connect({ host: '127.0.0.1', port }, () => {
        s.destroy();
        resolve(true);
      });
      s.once('error', () => resolve(false));
    });
    if (ok) return;
    if (gone()) throw new Error(`the process for port ${port} exited`);
    if (Date.now() > deadline) throw new Error(`nothing listens on 127.0.0.1:${port} after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/**
 * The stunnel binary, installed from Debian's stunnel4 package with apt-get when absent (as root
 * only; otherwise the error says what to install).
 */
export function ensureStunnel(progress: (text: string) => void): { path: string; version: string; installed: boolean } {
  const find = () => {
    for (const name of ['stunnel4', 'stunnel']) {
      const r = spawnSync('sh', ['-c', `command -v ${name}`], { encoding: 'utf8' });
      if (r.status === 0 && r.stdout.trim()) return r.stdout.trim();
    }
    return undefined;
  };
  let path = find();
  let installed = false;
  if (!path) {
    if (process.getuid?.() !== 0) throw new Error('stunnel is not installed and this is not root: apt-get install stunnel4');
    progress('stunnel not found: apt-get update && apt-get install -y stunnel4');
    const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
    for (const args of [['update'], ['install', '-y', 'stunnel4']]) {
      const r = spawnSync('apt-get', args, { encoding: 'utf8', env, stdio: ['ignore', 'pipe', 'pipe'] });
      if (r.status !== 0) throw new Error(`apt-get ${args.join(' ')} failed (${r.status}): ${(r.stderr || r.stdout).slice(-800)}`);
    }
    path = find();
    if (!path) throw new Error('apt-get installed stunnel4, but no stunnel binary is on PATH');
    installed = true;
  }
  const v = spawnSync(path, ['-version'], { encoding: 'utf8' });
  const text = `${v.stdout}\n${v.stderr}`;
  const version = [/stunnel (\S+) on/.exec(text)?.[1], /Running\s+with (OpenSSL [^\n]+)/.exec(text)?.[1]?.trim()].filter(Boolean).join(', ');
  return { path, version, installed };
}

export interface IssuedFiles {
  identity: string;
  keyFile: string;
  /** Leaf then intermediates, PEM. */
  certFile: string;
  serialHex: string;
}

/**
 * A P-256 key and CSR (identity/csr-builder.ts), certified by our identity service with a
 * ServiceAccount token signed by the home's token key; key and chain written 0600.
 */
export async function issueFiles(options: {
  client: CertifyClient;
  tokenKey: KeyObject;
  sa: ServiceAccountRef;
  domain: IdentityDomain;
  dir: string;
  name: string;
}): Promise<IssuedFiles> {
  const identity = identityName(options.sa, options.domain);
  const keys = generateP256KeyPair();
  const token = await signLocalServiceAccountToken({ signingKey: options.tokenKey, serviceAccount: options.sa, trustDomain: options.domain.trustDomain, ttlMs: 3_600_000, clock: systemClock });
  const issued = await options.client.certify({ identity, token: Buffer.from(token, 'utf8'), csr: buildCsr(keys, identity) });
  const keyFile = join(options.dir, `${options.name}.key`);
  const certFile = join(options.dir, `${options.name}.crt`);
  await writeFile(keyFile, privateKeyToPem(keys.privateKey), { mode: 0o600 });
  await writeFile(certFile, [issued.leafDer, ...issued.intermediatesDer].map((der) => encodePem(Buffer.from(der), 'CERTIFICATE')).join(''), { mode: 0o600 });
  return { identity, keyFile, certFile, serialHex: new X509Certificate(Buffer.from(issued.leafDer)).serialNumber };
}

export type StunnelLogLevel = 'warning' | 'info';

/**
 * One stunnel service: the client side accepts plaintext and connects with TLS; the server side
 * accepts TLS and connects in plaintext. Both: TLS 1.3 only, our certificates, the bundle as the
 * only CA, the peer's chain verified and its certificate required (mutual TLS); the client also
 * requires the server's exact identity (checkHost) and sends it as SNI, as our outbound does.
 * Session resumption is off on both sides (and server tickets), as in our proxies, so every
 * connection is a full handshake with both certificates verified.
 */
export function stunnelConfig(o: {
  role: 'client' | 'server';
  accept: number;
  connect: number;
  certFile: string;
  keyFile: string;
  caFile: string;
  peerIdentity?: string;
  logLevel: StunnelLogLevel;
}): string {
  const lines = [
    '; written by bench/proxy.ts',
    'foreground = yes',
    'pid =',
    'syslog = no',
    `debug = ${o.logLevel}`,
    '',
    `[${o.role}]`,
    `client = ${o.role === 'client' ? 'yes' : 'no'}`,
    `accept = 127.0.0.1:${o.accept}`,
    `connect = 127.0.0.1:${o.connect}`,
    `cert = ${o.certFile}`,
    `key = ${o.keyFile}`,
    `CAfile = ${o.caFile}`,
    'verifyChain = yes',
    'requireCert = yes',
    'sslVersionMin = TLSv1.3',
    'sslVersionMax = TLSv1.3',
    'sessionResume = no',
    'options = NO_TICKET',
    // stunnel's default waits up to 60 s for the peer's close_notify before it closes a socket;
    // our proxies do not wait, so neither does stunnel here.
    'TIMEOUTclose = 0',
    // TCP_NODELAY is stunnel's default on both local and remote sockets; said again for the record.
    'socket = l:TCP_NODELAY=1',
    'socket = r:TCP_NODELAY=1',
  ];
  if (o.role === 'client') {
    lines.push(`sni = ${o.peerIdentity}`, `checkHost = ${o.peerIdentity}`);
  }
  return `${lines.join('\n')}\n`;
}
