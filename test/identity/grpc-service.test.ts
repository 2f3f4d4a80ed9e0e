import { connect } from 'node:tls';
import * as grpc from '@grpc/grpc-js';
import { pino } from 'pino';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import * as errors from '../../common/errors.ts';
import { silentLogger } from '../../common/log.ts';
import { startIdentityGrpcServer, type IdentityGrpcServer } from '../../identity/grpc/certify-service.ts';
import { CertifyCallError, createCertifyClient, type CertifyClient } from '../../identity/grpc/client.ts';
import type { CertifyInput, CertifyOutput } from '../../identity/grpc/codec.ts';
import { ServingCredentialsSource } from '../../identity/grpc/serving-credentials.ts';
import { createIdentityMetrics, type IdentityMetrics } from '../../identity/metrics.ts';
import { IDENTITY_SERVICE_NAME, createServerCertificate, createTestCa, type TestCa } from '../support/test-pki.ts';

const HOST = '127.0.0.1';
const WORKLOAD = 'web.demo.serviceaccount.identity.linkerd.cluster.local';
const TOKEN = Buffer.from('header.payload.do-not-log-this-token');
const CSR = Buffer.from([0x30, 0x82, 0x01, 0x00, 0xaa]);
const VALID_UNTIL = new Date(1_900_000_000_123);

const request = (over: Partial<CertifyInput> = {}): CertifyInput => ({ identity: WORKLOAD, token: TOKEN, csr: CSR, ...over });

/** A fake authority: records what it was asked and answers as the current test tells it to. */
class FakeAuthority {
  calls: CertifyInput[] = [];
  behaviour: (req: CertifyInput) => Promise<CertifyOutput> = async (req) => ({
    leafDer: Buffer.from(`leaf for ${req.identity}`),
    intermediatesDer: [Buffer.from('issuer'), Buffer.from('intermediate')],
    validUntil: VALID_UNTIL,
  });
  certify = (req: CertifyInput): Promise<CertifyOutput> => {
    this.calls.push(req);
    return this.behaviour(req);
  };
}

function capturingLogger() {
  const lines: Array<Record<string, unknown>> = [];
  const raw: string[] = [];
  const logger = pino({ level: 'debug' }, { write: (line: string) => (raw.push(line), lines.push(JSON.parse(line))) });
  return { logger, lines, raw };
}

async function callError(promise: Promise<unknown>): Promise<CertifyCallError> {
  const err = await promise.then(() => undefined, (e: unknown) => e);
  expect(err).toBeInstanceOf(CertifyCallError);
  return err as CertifyCallError;
}

/** The serial number the server presents to a fresh TLS connection. */
function servedSerial(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: HOST, port, servername: IDENTITY_SERVICE_NAME, ALPNProtocols: ['h2'], rejectUnauthorized: false }, () => {
      const serial = socket.getPeerCertificate().serialNumber.toLowerCase();
      socket.destroy();
      resolve(serial);
    });
    socket.once('error', reject);
  });
}

let ca: TestCa;
let otherCa: TestCa;
beforeAll(async () => {
  [ca, otherCa] = await Promise.all([createTestCa('test anchor'), createTestCa('unrelated anchor')]);
});

describe('Certify over TLS', () => {
  const authority = new FakeAuthority();
  const log = capturingLogger();
  let metrics: IdentityMetrics;
  let server: IdentityGrpcServer;
  let client: CertifyClient;
  const clientFor = (over: { serverIdentity?: string; trustBundlePem?: string } = {}) =>
    createCertifyClient({
      address: `${HOST}:${server.port}`,
      serverIdentity: over.serverIdentity ?? IDENTITY_SERVICE_NAME,
      trustBundlePem: over.trustBundlePem ?? ca.certificatePem,
    });

  beforeAll(async () => {
    const serving = new ServingCredentialsSource(await createServerCertificate(ca), {
      verify: { trustBundlePem: ca.certificatePem, serverIdentity: IDENTITY_SERVICE_NAME },
    });
    metrics = createIdentityMetrics({ processMetrics: false });
    server = await startIdentityGrpcServer({ host: HOST, port: 0, certify: authority.certify, serving, logger: log.logger, metrics });
    client = clientFor();
  });
  afterAll(async () => {
    client?.close();
    await server?.close();
  });
  beforeEach(() => {
    authority.calls = [];
    authority.behaviour = new FakeAuthority().behaviour;
  });

  it('ok: round trip', async () => {
    const out = await client.certify(request());
    expect(Buffer.from(out.leafDer).toString()).toBe(`leaf for ${WORKLOAD}`);
    expect(out.intermediatesDer.map((d) => Buffer.from(d).toString())).toEqual(['issuer', 'intermediate']);
    expect(out.validUntil.getTime()).toBe(VALID_UNTIL.getTime());
    expect(authority.calls).toHaveLength(1);
    const seen = authority.calls[0]!;
    expect(seen.identity).toBe(WORKLOAD);
    expect(Buffer.from(seen.token).equals(TOKEN)).toBe(true);
    expect(Buffer.from(seen.csr).equals(CSR)).toBe(true);
    const ok = (await metrics.certifyRequests.get()).values.find((v) => v.labels.code === 'OK');
    expect(ok?.value).toBeGreaterThanOrEqual(1);
  });

  // The documented table in common/errors.ts, written out so that a change there shows up here.
  it.each([
    ['InvalidArgumentError', errors.InvalidArgumentError, grpc.status.INVALID_ARGUMENT],
    ['CsrRejectedError', errors.CsrRejectedError, grpc.status.INVALID_ARGUMENT],
    ['MessageTooLargeError', errors.MessageTooLargeError, grpc.status.RESOURCE_EXHAUSTED],
    ['TokenInvalidError', errors.TokenInvalidError, grpc.status.UNAUTHENTICATED],
    ['IdentityMismatchError', errors.IdentityMismatchError, grpc.status.PERMISSION_DENIED],
    ['UnavailableError', errors.UnavailableError, grpc.status.UNAVAILABLE],
    ['TrustError', errors.TrustError, grpc.status.FAILED_PRECONDITION],
    ['ConfigError', errors.ConfigError, grpc.status.FAILED_PRECONDITION],
    ['NotFoundError', errors.NotFoundError, grpc.status.NOT_FOUND],
    ['AlreadyExistsError', errors.AlreadyExistsError, grpc.status.ALREADY_EXISTS],
    ['LedgerCorruptError', errors.LedgerCorruptError, grpc.status.INTERNAL],
    ['UsageError', errors.UsageError, grpc.status.INVALID_ARGUMENT],
    ['InternalError', errors.InternalError, grpc.status.INTERNAL],
  ] as const)('fail/%s maps to its status with its message', async (name, ErrorClass, status) => {
    authority.behaviour = async () => {
      throw new ErrorClass(`${name}: safe message`, { cause: new Error('hidden cause') });
    };
    const err = await callError(client.certify(request()));
    expect(err.grpcCode).toBe(status);
    expect(err.details).toBe(`${name}: safe message`);
  });

  it('fail/unexpected-error is INTERNAL and leaks nothing', async () => {
    authority.behaviour = async () => {
      throw new Error('db password is hunter2');
    };
    const err = await callError(client.certify(request()));
    expect(err.grpcCode).toBe(grpc.status.INTERNAL);
    expect(err.details).toBe('internal error');
    expect(err.message).not.toContain('hunter2');
    // ...but the operator gets the cause.
    expect(log.raw.some((line) => line.includes('hunter2') && line.includes('certify failed'))).toBe(true);
  });

  it.each([
    ['identity', { identity: '' }, 'identity is required'],
    ['token', { token: new Uint8Array() }, 'token is required'],
    ['csr', { csr: new Uint8Array() }, 'certificate_signing_request is required'],
  ] as const)('fail/missing-%s is INVALID_ARGUMENT before certify runs', async (_field, over, details) => {
    const err = await callError(client.certify(request(over)));
    expect(err.grpcCode).toBe(grpc.status.INVALID_ARGUMENT);
    expect(err.details).toBe(details);
    expect(authority.calls).toHaveLength(0);
  });

  it('fail/message-too-large is refused by the server', async () => {
    const err = await callError(client.certify(request({ token: Buffer.alloc(65 * 1024, 0x61) })));
    expect(err.grpcCode).toBe(grpc.status.RESOURCE_EXHAUSTED);
    expect(authority.calls).toHaveLength(0);
  });

  it('logs a denial as a structured event, without the token', async () => {
    authority.behaviour = async () => {
      throw new errors.IdentityMismatchError('token is for web.other, not web.demo');
    };
    await callError(client.certify(request()));
    const denial = log.lines.findLast((l) => l.event === 'certify.denied' && l.code === 'PERMISSION_DENIED');
    expect(denial).toMatchObject({
      errorCode: 'ERR_IDENTITY_MISMATCH',
      identity: WORKLOAD,
      reason: 'token is for web.other, not web.demo',
    });
    expect(String(denial?.peer)).toMatch(/^127\.0\.0\.1:\d+$/);
    expect(log.raw.join('')).not.toContain(TOKEN.toString());
  });

  it('fail/wrong-server-identity: the client refuses the server', async () => {
    const other = clientFor({ serverIdentity: 'web.demo.serviceaccount.identity.linkerd.cluster.local' });
    try {
      const err = await callError(other.certify(request()));
      expect(err.grpcCode).toBe(grpc.status.UNAVAILABLE);
      expect(authority.calls).toHaveLength(0);
    } finally {
      other.close();
    }
  });

  it('fail/other-trust-bundle: the client refuses the server', async () => {
    const other = clientFor({ trustBundlePem: otherCa.certificatePem });
    try {
      const err = await callError(other.certify(request()));
      expect(err.grpcCode).toBe(grpc.status.UNAVAILABLE);
      expect(authority.calls).toHaveLength(0);
    } finally {
      other.close();
    }
  });

  it('fail/tls-1.1: the server refuses protocols below TLS 1.2', async () => {
    // This client would complete a TLS 1.1 handshake with a permissive server, so only ours can refuse.
    const outcome = await new Promise<string>((resolve) => {
      const socket = connect(
        { host: HOST, port: server.port, minVersion: 'TLSv1', maxVersion: 'TLSv1.1', ciphers: 'DEFAULT@SECLEVEL=0', rejectUnauthorized: false },
        () => (socket.destroy(), resolve('connected')),
      );
      socket.once('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? e.message));
    });
    expect(outcome).toBe('ERR_SSL_TLSV1_ALERT_PROTOCOL_VERSION');
  });
});

describe('serving certificate rotation', () => {
  it('new connections get the new certificate; open ones keep working; a bad one is refused', async () => {
    const first = await createServerCertificate(ca);
    const second = await createServerCertificate(otherCa);
    const serving = new ServingCredentialsSource(first);
    const metrics = createIdentityMetrics({ processMetrics: false });
    const authority = new FakeAuthority();
    const server = await startIdentityGrpcServer({ host: HOST, port: 0, certify: authority.certify, serving, logger: silentLogger, metrics });
    const address = `${HOST}:${server.port}`;
    const clients: CertifyClient[] = [];
    const client = (trustBundlePem: string) => {
      const c = createCertifyClient({ address, serverIdentity: IDENTITY_SERVICE_NAME, trustBundlePem });
      clients.push(c);
      return c;
    };
    try {
      const established = client(ca.certificatePem);
      await established.certify(request());
      expect(await servedSerial(server.port)).toBe(first.serialHex);

      serving.update(second);
      expect(await servedSerial(server.port)).toBe(second.serialHex);
      // A new client that trusts only the first anchor now fails; one that trusts the second succeeds.
      expect((await callError(client(ca.certificatePem).certify(request()))).grpcCode).toBe(grpc.status.UNAVAILABLE);
      await expect(client(otherCa.certificatePem).certify(request())).resolves.toMatchObject({ validUntil: VALID_UNTIL });
      // The connection made before the rotation is untouched.
      await expect(established.certify(request())).resolves.toMatchObject({ validUntil: VALID_UNTIL });

      // Validate, then publish: a key that does not match leaves the current certificate in force.
      expect(() => serving.update({ certificateChainPem: first.certificateChainPem, privateKeyPem: second.privateKeyPem })).toThrow(errors.TrustError);
      expect(await servedSerial(server.port)).toBe(second.serialHex);
    } finally {
      for (const c of clients) c.close();
      await server.close();
    }
  });

  it('with verify, a certificate for another name or from another anchor is refused', async () => {
    const verify = { trustBundlePem: ca.certificatePem, serverIdentity: IDENTITY_SERVICE_NAME };
    const current = await createServerCertificate(ca);
    const serving = new ServingCredentialsSource(current, { verify });
    const [wrongAnchor, wrongName] = await Promise.all([
      createServerCertificate(otherCa),
      createServerCertificate(ca, 'web.demo.serviceaccount.identity.linkerd.cluster.local'),
    ]);
    expect(() => serving.update(wrongAnchor)).toThrow(/does not chain to the trust bundle/);
    expect(() => serving.update(wrongName)).toThrow(/is not for identity\.linkerd/);
    expect(serving.current().certificateChainPem).toBe(current.certificateChainPem);
  });
});
