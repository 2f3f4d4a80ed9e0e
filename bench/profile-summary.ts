/**
 * Summarises a V8 .cpuprofile (node --cpu-prof) of the identity server: top self-time functions,
 * self time by area (crypto, JWT, gRPC, HTTP/2, TLS, ledger, GC...), and inclusive time of the
 * steps of a Certify call; per request when the request count is given.
 *
 *   node bin/run-ts.mjs bench/profile-summary.ts FILE.cpuprofile [--window START-END] [--requests N] [--top 30]
 *
 * --window takes monotonic microseconds (the bench prints each level's window with --profile;
 * V8's profile clock and process.hrtime are both CLOCK_MONOTONIC on Linux).
 *
 * --cpu-prof writes one profile per thread: the main thread's, the module loader's (tsx), and one
 * per crypto worker (and its loader). Summarise each; "main-thread CPU" then means that thread's.
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
}
interface ProfileNode {
  id: number;
  callFrame: CallFrame;
  children?: number[];
}
interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: { window: { type: 'string' }, requests: { type: 'string' }, top: { type: 'string', default: '30' } },
});
const file = positionals[0];
if (!file) throw new Error('usage: profile-summary.ts FILE.cpuprofile [--window START-END] [--requests N] [--top N]');
const profile = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
const [from, to] = values.window ? values.window.split('-').map(Number) : [-Infinity, Infinity];
const requests = values.requests ? Number(values.requests) : undefined;

const byId = new Map<number, ProfileNode>();
const parent = new Map<number, number>();
for (const node of profile.nodes) {
  byId.set(node.id, node);
  for (const child of node.children ?? []) parent.set(child, node.id);
}

const shortUrl = (url: string) =>
  url
    .replace(/^file:\/\/\/work\/main\//, '')
    .replace(/^.*node_modules\//, '')
    .replace(/^node:internal\//, 'internal/');
const frameKey = (f: CallFrame) => `${f.functionName || '(anonymous)'}${f.url ? ` ${shortUrl(f.url)}:${f.lineNumber + 1}` : ''}`;

/** Area of a frame, or undefined when the frame says nothing (a native without URL). */
function areaOf(f: CallFrame): string | undefined {
  const { url, functionName: fn } = f;
  if (fn === '(garbage collector)') return 'GC';
  if (fn === '(idle)') return 'idle';
  if (fn === '(program)') return 'program (native, unattributed)';
  if (fn === '(root)') return 'root';
  if (!url) return undefined;
  if (url.includes('/jose/')) return 'JWT (jose JS)';
  if (url.includes('internal/crypto')) return 'crypto (node:crypto)';
  if (url.includes('@grpc/grpc-js')) return 'gRPC (grpc-js)';
  if (url.includes('protobufjs') || url.includes('@grpc/proto-loader')) return 'protobuf';
  if (url.includes('internal/http2') || url.endsWith('node:http2')) return 'HTTP/2 (node)';
  if (/_tls_|internal\/tls|node:tls/.test(url)) return 'TLS (node JS)';
  if (/internal\/(streams|net|stream_base|js_stream)|node:net|node:stream/.test(url)) return 'streams/net';
  if (url.includes('identity/ledger/')) return 'ledger';
  if (url.includes('identity/authority/') || url.includes('trust-anchors/der')) return 'authority (DER, rules, leaf)';
  if (url.includes('identity/validators/')) return 'validator (ours)';
  if (url.includes('identity/grpc/') || url.includes('identity/metrics')) return 'service glue (ours)';
  if (url.includes('prom-client')) return 'metrics (prom-client)';
  if (url.includes('pino')) return 'logging (pino)';
  if (url.includes('/tsx/') || url.includes('esbuild')) return 'tsx loader';
  if (/internal\/(fs|process\/task_queues|timers|async_hooks)|node:fs|node:timers|internal\/process/.test(url)) return 'fs/timers/microtasks';
  if (url.startsWith('node:')) return 'node (other)';
  return `other (${shortUrl(url).split('/')[0]})`;
}

/** Steps of a Certify call, matched on the stack for inclusive time. */
const STEPS: Array<[string, (f: CallFrame) => boolean]> = [
  ['Certify handler (ours, any frame)', (f) => f.url.includes('identity/grpc/certify-service')],
  ['authority.certify', (f) => f.url.includes('authority/authority.ts') && f.functionName === 'certify'],
  ['  verifyCsr (parse, key import, signature; in-thread or on a crypto worker)', (f) => f.url.includes('authority/csr.ts') && f.functionName === 'verifyCsr'],
  ['  crypto worker pool (dispatch, main thread)', (f) => f.url.includes('identity/crypto-workers/pool')],
  ['crypto worker (worker thread)', (f) => f.url.includes('identity/crypto-workers/worker')],
  ['  token validate (LocalJwtValidator)', (f) => f.url.includes('local-jwt-validator') && f.functionName === 'validate'],
  ['    jose jwtVerify', (f) => f.url.includes('/jose/') && f.functionName === 'jwtVerify'],
  ['    verifyLocalJwt (in-thread or on a crypto worker)', (f) => f.url.includes('validators/local-jwt.ts') && f.functionName === 'verifyLocalJwt'],
  ['  CSR rules', (f) => f.url.includes('authority/rules.ts')],
  ['    CSR key import (importP256Key)', (f) => f.url.includes('authority/csr.ts') && f.functionName === 'importP256Key'],
  ['  LeafBuilder.build', (f) => f.url.includes('authority/leaf.ts') && f.functionName === 'build'],
  ['  checkLeafProfile', (f) => f.url.includes('authority/profile.ts')],
  ['  ledger append (sync part)', (f) => f.url.includes('identity/ledger/writer') && f.functionName === 'append'],
  ['ledger drain (write batches)', (f) => f.url.includes('identity/ledger/') && /drain|writeAll/.test(f.functionName)],
  ['ledger checkpoint', (f) => f.url.includes('identity/ledger/checkpoint')],
  ['crypto createPublicKey', (f) => f.functionName === 'createPublicKey'],
  ['crypto verify (Verify/verifyOneShot)', (f) => f.url.includes('internal/crypto/sig') && /^(verifyOneShot|verify)$/.test(f.functionName)],
  ['crypto sign (signOneShot)', (f) => f.url.includes('internal/crypto/sig') && /^(signOneShot|sign)$/.test(f.functionName)],
  ['webcrypto (subtle)', (f) => f.url.includes('internal/crypto/webcrypto') || f.url.includes('internal/crypto/ec')],
  ['hash (createHash/digest)', (f) => f.url.includes('internal/crypto/hash')],
  ['grpc-js (any frame)', (f) => f.url.includes('@grpc/grpc-js')],
  ['protobuf (any frame)', (f) => f.url.includes('protobufjs')],
  ['http2 (any frame)', (f) => f.url.includes('internal/http2')],
  ['tls (any frame)', (f) => /_tls_|internal\/tls/.test(f.url)],
  ['metrics (prom-client, any frame)', (f) => f.url.includes('prom-client')],
];

let total = 0;
let idle = 0;
let samples = 0;
const self = new Map<string, number>();
const area = new Map<string, number>();
const steps = new Map<string, number>();
let t = profile.startTime;
for (let i = 0; i < profile.samples.length; i++) {
  t += profile.timeDeltas[i] ?? 0;
  if (t < from! || t > to!) continue;
  const weight = Math.min(profile.timeDeltas[i + 1] ?? 0, 10_000); // µs until the next sample
  const node = byId.get(profile.samples[i]!)!;
  samples++;
  total += weight;
  if (node.callFrame.functionName === '(idle)') {
    idle += weight;
    continue;
  }
  const key = frameKey(node.callFrame);
  self.set(key, (self.get(key) ?? 0) + weight);
  // Area: the first frame from the leaf up that has one.
  let areaName: string | undefined;
  const stack: CallFrame[] = [];
  for (let id: number | undefined = node.id; id !== undefined; id = parent.get(id)) {
    const f = byId.get(id)!.callFrame;
    stack.push(f);
    areaName ??= areaOf(f);
  }
  area.set(areaName ?? 'unknown', (area.get(areaName ?? 'unknown') ?? 0) + weight);
  for (const [name, match] of STEPS) {
    if (stack.some(match)) steps.set(name, (steps.get(name) ?? 0) + weight);
  }
}

const busy = total - idle;
const pct = (v: number) => `${((100 * v) / busy).toFixed(1).padStart(5)}%`;
const perReq = (v: number) => (requests ? `${(v / requests).toFixed(1).padStart(7)} µs/req` : '');
const ms = (v: number) => `${(v / 1000).toFixed(0).padStart(7)} ms`;
const lines: string[] = [];
lines.push(`profile ${file}`);
lines.push(
  `window ${Number.isFinite(from!) ? `${from}-${to}` : 'whole profile'}: ${samples} samples, ${(total / 1e6).toFixed(2)} s, busy ${(busy / 1e6).toFixed(2)} s (${((100 * busy) / total).toFixed(0)}% of the main thread)` +
    (requests ? `, ${requests} requests => ${(busy / requests).toFixed(0)} µs main-thread CPU per request` : ''),
);
lines.push('', 'self time by area (% of busy)');
for (const [name, v] of [...area].sort((a, b) => b[1] - a[1])) lines.push(`  ${pct(v)} ${ms(v)} ${perReq(v)}  ${name}`);
lines.push('', 'inclusive time of the steps (% of busy; a frame anywhere on the stack)');
for (const [name] of STEPS) {
  const v = steps.get(name) ?? 0;
  lines.push(`  ${pct(v)} ${ms(v)} ${perReq(v)}  ${name}`);
}
lines.push('', `top ${values.top} self-time functions`);
for (const [name, v] of [...self].sort((a, b) => b[1] - a[1]).slice(0, Number(values.top))) {
  lines.push(`  ${pct(v)} ${ms(v)} ${perReq(v)}  ${name}`);
}
process.stdout.write(`${lines.join('\n')}\n`);
