/**
 * Real processes for the acceptance tests: `identity serve` and `identity proxy` started as child
 * processes exactly as mesh/local-mesh.ts starts them (mesh/process.ts), readiness read from their
 * JSON log lines (`serving`, `proxy.ready`), and what they expose read the way an operator reads
 * it: admin /metrics and /identity over HTTP, memory from /proc/PID/status.
 *
 * Every process goes into a ProcessSet; `stopAll()` (afterAll) stops them, and a process-exit hook
 * SIGKILLs whatever is still running if the test worker dies first, so that no run leaves a proxy
 * behind. Only processes started here are ever signalled, by their own pid.
 */
import { copyFile, mkdir, readFile, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { logEvent, spawnIdentity, type ManagedProcess } from '../../../mesh/process.ts';

/** Children of this worker still running: SIGKILLed on exit if nobody stopped them. */
const live = new Set<ManagedProcess>();
let exitHookInstalled = false;
function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.once('exit', () => {
    for (const p of live) {
      try {
        p.child.kill('SIGKILL');
      } catch {
        // already gone
      }
    }
  });
}

export class ProcessSet {
  readonly #all: ManagedProcess[] = [];
  constructor(readonly logDir: string) {}

  /** `identity ARGS...`, its output in `<logDir>/<name>.log`. */
  async spawn(name: string, args: string[]): Promise<ManagedProcess> {
    installExitHook();
    await mkdir(this.logDir, { recursive: true });
    const p = spawnIdentity(name, args, join(this.logDir, `${name.replace(/\W+/g, '-')}.log`));
    this.#all.push(p);
    live.add(p);
    void p.exited.then(() => live.delete(p));
    return p;
  }

  /** SIGTERM (SIGKILL after a grace period) to every process still running, newest first. */
  async stopAll(): Promise<void> {
    await Promise.all([...this.#all].reverse().map((p) => p.stop(5_000)));
  }
}

export const isRunning = (p: ManagedProcess) => p.child.exitCode === null && p.child.signalCode === null;

/** SIGKILL one of our processes (a crash, not a shutdown) and wait until it is gone. */
export async function kill(p: ManagedProcess): Promise<void> {
  if (isRunning(p)) p.child.kill('SIGKILL');
  await p.exited;
}

// ---------------------------------------------------------------------------------------------
// identity serve

export interface IdentityProcess {
  process: ManagedProcess;
  /** `127.0.0.1:PORT` of the Certify API. */
  listen: string;
  port: number;
  admin: number;
  /** The service's own identity (its serving certificate's name). */
  identity: string;
}

export interface IdentityProcessOptions {
  home: string;
  name?: string;
  /** Default 127.0.0.1:0; a fixed port to restart on the same address. */
  listen?: string;
  /** `--leaf-lifetime`, e.g. `10s`. */
  leafLifetime?: string;
}

export async function startIdentityProcess(set: ProcessSet, o: IdentityProcessOptions): Promise<IdentityProcess> {
  const args = ['serve', '--home', o.home, '--listen', o.listen ?? '127.0.0.1:0', '--admin-listen', '127.0.0.1:0'];
  if (o.leafLifetime) args.push('--leaf-lifetime', o.leafLifetime);
  const p = await set.spawn(o.name ?? 'identity', args);
  const served = await p.waitForLine(
    logEvent('serving', (r) => ({ listen: String(r.listen), admin: Number(r.admin), identity: String(r.identity) })),
    90_000,
  );
  return { process: p, ...served, port: Number(served.listen.slice(served.listen.lastIndexOf(':') + 1)) };
}

// ---------------------------------------------------------------------------------------------
// identity proxy

export interface ProxyPorts {
  inbound: number;
  admin: number;
  outbound: number[];
}

export interface ProxyProcess {
  process: ManagedProcess;
  name: string;
  identity: string;
  ports: ProxyPorts;
  pid: number;
  bundleFile: string;
  /** Sum of the series of `name` whose labels include `labels`, from GET /metrics. */
  metric(name: string, labels?: Record<string, string>): Promise<number>;
  /** GET /identity. */
  identityDocument(): Promise<{ identity: string; serial: string; notAfter: string; issuer: string; bundleFingerprint: string; certificateAnchors: string[]; issuerFingerprint: string | null }>;
  /** VmRSS from /proc/PID/status, in bytes. */
  rss(): Promise<number>;
}

export interface ProxyProcessOptions {
  name: string;
  identity: string;
  token: string;
  /** PEM written to this proxy's own bundle file (default: a copy of `<home>/bundle.crt`). */
  bundlePem?: string;
  /** Read this bundle file itself (e.g. `<home>/bundle.crt`, which rotations publish) instead of a copy. */
  sharedBundleFile?: string;
  home: string;
  service: { listen: string; identity: string };
  /** The application port behind the inbound listener (default 9: nothing). */
  appPort?: number;
  /** Outbound routes: destination port on 127.0.0.1 and the identity expected there. */
  outbound?: { port: number; identity: string }[];
  /** Further flags, e.g. `--min-refresh 1s`. */
  extra?: string[];
}

export async function startProxyProcess(set: ProcessSet, o: ProxyProcessOptions): Promise<ProxyProcess> {
  const dir = join(set.logDir, o.name);
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const tokenFile = join(dir, 'token');
  const bundleFile = o.sharedBundleFile ?? join(dir, 'ca-bundle.crt');
  await writeFile(tokenFile, o.token, { mode: 0o600 });
  if (o.sharedBundleFile === undefined) {
    if (o.bundlePem !== undefined) await writeFile(bundleFile, o.bundlePem);
    else await copyFile(join(o.home, 'bundle.crt'), bundleFile);
  }
  const args = [
    'proxy', '--local-identity', o.identity, '--token-file', tokenFile, '--trust-bundle', bundleFile,
    '--identity-addr', o.service.listen, '--identity-name', o.service.identity, '--inbound-listen', '127.0.0.1:0',
    '--app', `127.0.0.1:${o.appPort ?? 9}`, '--admin-listen', '127.0.0.1:0',
    ...(o.outbound ?? []).flatMap((r) => ['--outbound', `127.0.0.1:0,127.0.0.1:${r.port},${r.identity}`]),
    ...(o.extra ?? []),
  ];
  const p = await set.spawn(`${o.name}-proxy`, args);
  const ports = await p.waitForLine(logEvent('proxy.ready', (r) => r.ports as ProxyPorts), 90_000);
  const admin = `http://127.0.0.1:${ports.admin}`;
  return {
    process: p,
    name: o.name,
    identity: o.identity,
    ports,
    pid: p.child.pid!,
    bundleFile,
    metric: async (name, labels = {}) => metricValue(await httpText(`${admin}/metrics`), name, labels),
    identityDocument: async () => JSON.parse(await httpText(`${admin}/identity`)) as Awaited<ReturnType<ProxyProcess['identityDocument']>>,
    rss: () => rssOf(p.child.pid!),
  };
}

/** Sum of the samples of `name` whose labels include all of `labels`, in Prometheus text. */
export function metricValue(text: string, name: string, labels: Record<string, string> = {}): number {
  let total = 0;
  for (const line of text.split('\n')) {
    const m = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m || m[1] !== name) continue;
    const have = Object.fromEntries([...(m[2] ?? '').matchAll(/(\w+)="([^"]*)"/g)].map((x) => [x[1], x[2]]));
    if (Object.entries(labels).every(([k, v]) => have[k] === v)) total += Number(m[3]);
  }
  return total;
}

export async function httpText(url: string): Promise<string> {
  const res = await fetch(url, { signal: AbortSignal.timeout(10_000) });
  return res.text();
}

export async function rssOf(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const m = /^VmRSS:\s+(\d+)\s+kB$/m.exec(status);
  if (!m) throw new Error(`no VmRSS in /proc/${pid}/status`);
  return Number(m[1]) * 1024;
}

/** Polls `check` every 100 ms until true; throws `what` after `timeoutMs`. */
export async function waitUntil(what: string, check: () => Promise<boolean> | boolean, timeoutMs = 30_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return;
    if (Date.now() > until) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(100);
  }
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * A free TCP port *below* the kernel's ephemeral range, for a service that must restart on the
 * same port: a port from the ephemeral range (what port 0 gives) can meanwhile be taken as the
 * local port of an outgoing connection — the traffic the test keeps running makes thousands,
 * each leaving a TIME_WAIT socket — and binding it again would then fail with EADDRINUSE.
 */
export async function freePortBelowEphemeralRange(): Promise<number> {
  const range = await readFile('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').catch(() => '32768 60999');
  const low = Number(range.trim().split(/\s+/)[0]) || 32768;
  const floor = Math.min(10_000, low - 1_000);
  for (let i = 0; i < 200; i++) {
    const port = floor + Math.floor(Math.random() * (low - floor));
    const ok = await new Promise<boolean>((resolve) => {
      const server = createServer();
      server.once('error', () => resolve(false));
      server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
    });
    if (ok) return port;
  }
  throw new Error(`no free port found in [${floor}, ${low})`);
}
