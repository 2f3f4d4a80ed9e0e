import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, type WriteStream } from 'node:fs';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';

const RUN_TS = fileURLToPath(new URL('../bin/run-ts.mjs', import.meta.url));
const IDENTITY = fileURLToPath(new URL('../bin/identity.mjs', import.meta.url));

/** A child process: its output kept in a log file and searchable for readiness lines. */
export interface ManagedProcess {
  name: string;
  child: ChildProcess;
  logFile: string;
  /** Resolves with the first log line (parsed JSON or raw text) that `match` accepts. */
  waitForLine<T>(match: (line: string) => T | undefined, timeoutMs?: number): Promise<T>;
  exited: Promise<number | null>;
  /** The exit code, or the signal that ended it. */
  exit: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** The last lines it wrote (stdout and stderr), oldest first. */
  recentLog(): string[];
  /** SIGTERM, then SIGKILL after `graceMs`. */
  stop(graceMs?: number): Promise<number | null>;
}

const KEPT_LINES = 500;

export function spawnIdentity(name: string, args: string[], logFile: string): ManagedProcess {
  return spawnManaged(name, process.execPath, [IDENTITY, ...args], logFile);
}

export function spawnTypeScript(name: string, file: string, args: string[], logFile: string): ManagedProcess {
  return spawnManaged(name, process.execPath, [RUN_TS, file, ...args], logFile);
}

/** Any program (the mesh's node processes, the benchmark's stunnel). Both pipes are always drained. */
export function spawnManaged(name: string, command: string, args: string[], logFile: string): ManagedProcess {
  const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] });
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
      if (lines.length > KEPT_LINES) lines.shift();
      for (const l of [...listeners]) l(line);
    }
  };
  child.stdout!.on('data', onData);
  child.stderr!.on('data', onData);
  child.once('error', (err) => onData(Buffer.from(`spawn error: ${err.message}\n`)));
  const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.on('close', (code, signal) => {
      log.end();
      resolve({ code, signal });
    }),
  );
  const exited = exit.then((e) => e.code);
  const tail = () => (lines.length ? `\n${lines.slice(-15).join('\n')}` : '');
  return {
    name,
    child,
    logFile,
    exited,
    exit,
    recentLog: () => [...lines],
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
        const timer = setTimeout(() => finish(new Error(`${name} did not become ready within ${timeoutMs} ms; see ${logFile}${tail()}`)), timeoutMs);
        void exit.then((e) => finish(new Error(`${name} exited (code ${e.code}, signal ${e.signal}) before it was ready; see ${logFile}${tail()}`)));
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
