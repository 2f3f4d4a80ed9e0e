/**
 * The identity service under test, as a separate process (its own event loop, its own cores):
 * `identity serve` through the CLI. Ports are ephemeral; they are read from the service's
 * `serving` log line.
 */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../', import.meta.url));
const TICKS_PER_SECOND = 100; // USER_HZ; Linux reports /proc times in these units on every common build

export interface ServerProcessOptions {
  home: string;
  /** Extra `identity serve` flags, e.g. --crypto-workers 0. */
  serveFlags?: string[];
  /** Extra node flags for the server, e.g. --cpu-prof. */
  nodeFlags?: string[];
  readyTimeoutMs?: number;
}

export interface ServerProcess {
  pid: number;
  port: number;
  adminPort: number;
  identity: string;
  /** The last lines the server wrote to stderr, for error reports. */
  recentLog(): string[];
  /** user+system CPU seconds so far (all threads), from /proc/PID/stat. */
  cpuSeconds(): number;
  /** The same, split into user and system seconds. */
  cpuTimes(): { user: number; system: number };
  /** Peak and current resident set (VmHWM, VmRSS) in bytes, from /proc/PID/status. */
  memory(): { peakRssBytes: number; rssBytes: number };
  /** SIGTERM, then SIGKILL after `graceMs`; resolves when the process is gone. */
  stop(graceMs?: number): Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Synchronous last resort (process 'exit' handler). */
  killNow(): void;
}

export class ServerStartError extends Error {
  readonly log: string[];
  constructor(message: string, log: string[]) {
    super(`${message}\n--- server log (last lines) ---\n${log.join('\n')}`);
    this.name = 'ServerStartError';
    this.log = log;
  }
}

export function serverCommand(home: string, serveFlags: string[] = []): string[] {
  return [`${ROOT}bin/identity.mjs`, 'serve', '--home', home, '--listen', '127.0.0.1:0', '--admin-listen', '127.0.0.1:0', ...serveFlags];
}

export async function startServerProcess(options: ServerProcessOptions): Promise<ServerProcess> {
  const args = [...(options.nodeFlags ?? []), ...serverCommand(options.home, options.serveFlags)];
  const child = spawn(process.execPath, args, { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  const log: string[] = [];
  const remember = (line: string) => {
    log.push(line);
    if (log.length > 60) log.shift();
  };
  // Both pipes are always drained: pino writes synchronously and would block on a full pipe.
  createInterface({ input: child.stdout! }).on('line', remember);
  const stderr = createInterface({ input: child.stderr! });

  let exited: { code: number | null; signal: NodeJS.Signals | null } | undefined;
  const exitPromise = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.once('exit', (code, signal) => {
      exited = { code, signal };
      resolve(exited);
    });
  });

  const serving = await new Promise<{ port: number; adminPort: number; identity: string }>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new ServerStartError(`the server did not log "serving" within ${options.readyTimeoutMs ?? 30_000} ms`, log)),
      options.readyTimeoutMs ?? 30_000,
    );
    stderr.on('line', (line) => {
      remember(line);
      if (!line.includes('"serving"')) return;
      try {
        const entry = JSON.parse(line) as { event?: string; listen?: string; admin?: number; identity?: string };
        if (entry.event !== 'serving') return;
        clearTimeout(timer);
        resolve({ port: Number(entry.listen!.split(':').pop()), adminPort: entry.admin!, identity: entry.identity! });
      } catch {
        // not our line
      }
    });
    void exitPromise.then((e) => {
      clearTimeout(timer);
      reject(new ServerStartError(`the server exited before it was ready (code ${e.code}, signal ${e.signal})`, log));
    });
  });

  const handle: ServerProcess = {
    pid: child.pid!,
    ...serving,
    recentLog: () => [...log],
    cpuTimes: () => {
      const stat = readFileSync(`/proc/${child.pid}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      // After the command name: state is field 3, utime 14 and stime 15 (1-based, man proc).
      return { user: Number(fields[11]) / TICKS_PER_SECOND, system: Number(fields[12]) / TICKS_PER_SECOND };
    },
    cpuSeconds: () => {
      const { user, system } = handle.cpuTimes();
      return user + system;
    },
    memory: () => {
      const status = readFileSync(`/proc/${child.pid}/status`, 'utf8');
      const kib = (key: string) => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN) * 1024;
      return { peakRssBytes: kib('VmHWM'), rssBytes: kib('VmRSS') };
    },
    stop: async (graceMs = 10_000) => {
      if (exited) return exited;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
      const result = await exitPromise;
      clearTimeout(timer);
      return result;
    },
    killNow: () => {
      if (!exited) child.kill('SIGKILL');
    },
  };
  await waitReady(handle, options.readyTimeoutMs ?? 30_000, () => exited !== undefined);
  return handle;
}

/** Polls the admin /ready until it answers 200. */
async function waitReady(server: ServerProcess, timeoutMs: number, gone: () => boolean): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = '';
  while (Date.now() < deadline) {
    if (gone()) throw new ServerStartError('the server exited while waiting for /ready', server.recentLog());
    try {
      const res = await fetch(`http://127.0.0.1:${server.adminPort}/ready`, { signal: AbortSignal.timeout(2_000) });
      last = `${res.status} ${await res.text()}`;
      if (res.status === 200) return;
    } catch (err) {
      last = (err as Error).message;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new ServerStartError(`admin /ready did not answer 200 within ${timeoutMs} ms (last: ${last})`, server.recentLog());
}
