import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, type WriteStream } from 'node:fs';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';

const RUN_TS = fileURLToPath(new URL('../bin/run-ts.mjs', import.meta.url));
const IDENTITY = fileURLToPath(new URL('../bin/identity.mjs', import.meta.url));

/** A child process of the local mesh: its output kept in a log file and searchable for readiness lines. */
export interface ManagedProcess {
  name: string;
  child: ChildProcess;
  /** Resolves with the first log line (parsed JSON or raw text) that `match` accepts. */
  waitForLine<T>(match: (line: string) => T | undefined, timeoutMs?: number): Promise<T>;
  exited: Promise<number | null>;
  /** SIGTERM, then SIGKILL after `graceMs`. */
  stop(graceMs?: number): Promise<number | null>;
}

export function spawnIdentity(name: string, args: string[], logFile: string): ManagedProcess {
  return spawnNode(name, [IDENTITY, ...args], logFile);
}

export function spawnTypeScript(name: string, file: string, args: string[], logFile: string): ManagedProcess {
  return spawnNode(name, [RUN_TS, file, ...args], logFile);
}

function spawnNode(name: string, args: string[], logFile: string): ManagedProcess {
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  const log: WriteStream = createWriteStream(logFile, { flags: 'a', mode: 0o600 });
  const lines: string[] = [];
  const listeners = new Set<(line: string) => void>();
  let partial = '';
  const onData = (chunk: Buffer) => {
    log.write(chunk);
    const text = partial + chunk.toString();
    const parts = text.split('\n');
    partial = parts.pop() ?? '';
    for (const line of parts) {
      lines.push(line);
      if (lines.length > 500) lines.shift();
      for (const l of [...listeners]) l(line);
    }
  };
  child.stdout!.on('data', onData);
  child.stderr!.on('data', onData);
  const exited = new Promise<number | null>((resolve) =>
    child.on('close', (code) => {
      log.end();
      resolve(code);
    }),
  );
  return {
    name,
    child,
    exited,
    waitForLine<T>(match: (line: string) => T | undefined, timeoutMs = 30_000): Promise<T> {
      return new Promise<T>((resolve, reject) => {
        let done = false;
        const finish = (err?: Error, value?: T) => {
          if (done) return;
          done = true;
          listeners.delete(listener);
          clearTimeout(timer);
          if (err) reject(err);
          else resolve(value as T);
        };
        const listener = (line: string) => {
          const value = match(line);
          if (value !== undefined) finish(undefined, value);
        };
        const timer = setTimeout(() => finish(new Error(`${name} did not become ready within ${timeoutMs} ms; see ${logFile}`)), timeoutMs);
        void exited.then((code) => finish(new Error(`${name} exited (code ${code}) before it was ready; see ${logFile}`)));
        for (const line of lines) listener(line);
        if (!done) listeners.add(listener);
      });
    },
    async stop(graceMs = 10_000) {
      if (child.exitCode !== null || child.signalCode !== null) return exited;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
      const code = await exited;
      clearTimeout(timer);
      return code;
    },
  };
}

/** Parses a JSON log line and returns `pick(record)` when its `event` is `event`. */
export function logEvent<T>(event: string, pick: (record: Record<string, unknown>) => T) {
  return (line: string): T | undefined => {
    if (!line.startsWith('{')) return undefined;
    try {
      const record = JSON.parse(line) as Record<string, unknown>;
      return record.event === event ? pick(record) : undefined;
    } catch {
      return undefined;
    }
  };
}

/** A free port on 127.0.0.1, for programs that must be told their port before they start. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => resolve(typeof address === 'object' && address ? address.port : 0));
    });
  });
}
