/**
 * Policy fixtures for the enforcement tests: the policy YAML of api's pod (a Server on api's
 * port, a MeshTLSAuthentication naming the admitted identities, an AuthorizationPolicy), and a
 * logger that keeps every record so that a test can find the proxy's decision lines.
 */
import { pino, type Logger } from 'pino';
import { idOf } from './mesh.ts';
import { collect, dialLocal, waitForData, writeBytes, type Collected } from './sockets.ts';

export const API_POD = 'demo/api-0';

export interface ApiPolicyOptions {
  /** The port of api's application: the Server's port. */
  appPort: number;
  /** Identities the AuthorizationPolicy admits (default: web's). An empty list: no authorization at all. */
  admit?: string[];
  /** The Server's accessPolicy (default: deny, as in Linkerd). */
  accessPolicy?: string;
}

/** Namespace, Pod, Server, MeshTLSAuthentication, AuthorizationPolicy: api admits web only. */
export function apiPolicyYaml(o: ApiPolicyOptions): string {
  const admit = o.admit ?? [idOf('web')];
  const docs = [
    `apiVersion: v1
kind: Namespace
metadata: { name: demo }`,
    `apiVersion: v1
kind: Pod
metadata: { name: api-0, namespace: demo, labels: { app: api } }
spec:
  serviceAccountName: api
  containers:
    - name: app
      ports: [{ name: http, containerPort: ${o.appPort} }]`,
    `apiVersion: policy.linkerd.io/v1beta3
kind: Server
metadata: { name: api, namespace: demo }
spec:
  podSelector: { matchLabels: { app: api } }
  port: http
  proxyProtocol: opaque${o.accessPolicy ? `\n  accessPolicy: ${o.accessPolicy}` : ''}`,
  ];
  if (admit.length > 0) {
    docs.push(
      `apiVersion: policy.linkerd.io/v1alpha1
kind: MeshTLSAuthentication
metadata: { name: api-clients, namespace: demo }
spec:
  identities: [${admit.map((id) => JSON.stringify(id)).join(', ')}]`,
      `apiVersion: policy.linkerd.io/v1alpha1
kind: AuthorizationPolicy
metadata: { name: api-from-web, namespace: demo }
spec:
  targetRef: { group: policy.linkerd.io, kind: Server, name: api }
  requiredAuthenticationRefs:
    - { group: policy.linkerd.io, kind: MeshTLSAuthentication, name: api-clients }`,
    );
  }
  return docs.join('\n---\n') + '\n';
}

export interface CapturedLogs {
  logger: Logger;
  records: Array<Record<string, unknown>>;
  /** Records of one `event`, in order. */
  events(event: string): Array<Record<string, unknown>>;
}

export function capturingLogger(level = 'debug'): CapturedLogs {
  const records: Array<Record<string, unknown>> = [];
  const logger = pino({ level }, { write: (line: string) => void records.push(JSON.parse(line) as Record<string, unknown>) });
  return { logger, records, events: (event) => records.filter((r) => r.event === event) };
}

/** One connection: `allowed` once `ping` is echoed back, else how it ended (ECONNRESET for a refusal). */
export async function tryOnce(port: number): Promise<string> {
  const socket = await dialLocal(port).catch((err: NodeJS.ErrnoException) => err);
  if (socket instanceof Error) return socket.code ?? socket.message;
  try {
    const ended = collect(socket).then((c) => c.ending);
    const echoed = waitForData(socket, (b) => b.toString() === 'ping').then(
      () => 'allowed',
      () => ended,
    );
    socket.write('ping');
    return await within(Promise.race([echoed, ended]), 'an echo or the end of the connection');
  } finally {
    socket.destroy();
  }
}

/** An open connection through `port` that has carried bytes both ways. */
export async function openConnection(port: number) {
  const socket = await dialLocal(port);
  const ended = collect(socket);
  socket.write('hello;');
  await within(waitForData(socket, (b) => b.toString() === 'hello;'), 'the first echo');
  return { socket, ended };
}

/** Sends `size` bytes (seeded with `size`) through `port`, half-closes, and collects the answer to its end (within 20 s). */
export async function sendAndCollect(port: number, size: number): Promise<Collected> {
  const socket = await dialLocal(port);
  try {
    const ended = collect(socket);
    await writeBytes(socket, size, size);
    socket.end();
    return await within(ended, `the answer to ${size} bytes`, 20_000);
  } finally {
    socket.destroy();
  }
}

/** `promise`, or a failure naming `what` after `ms`: no await in these tests can hang. */
export function within<T>(promise: Promise<T>, what: string, ms = 5_000): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms)));
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
