/**
 * Wire compatibility: a client built only from Linkerd's .proto, with proto-loader's default field
 * naming (camelCase) and grpc-js directly, as any third-party client would be. Nothing from
 * identity/grpc/ is used on the client side.
 */
import * as grpc from '@grpc/grpc-js';
import { loadSync } from '@grpc/proto-loader';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { silentLogger } from '../../common/log.ts';
import { startIdentityGrpcServer, type IdentityGrpcServer } from '../../identity/grpc/certify-service.ts';
import type { CertifyInput } from '../../identity/grpc/codec.ts';
import { ServingCredentialsSource } from '../../identity/grpc/serving-credentials.ts';
import { IDENTITY_SERVICE_NAME, createServerCertificate, createTestCa, type TestCa } from '../support/test-pki.ts';

const PROTO_DIR = fileURLToPath(new URL('../../proto/', import.meta.url));

interface CamelResponse {
  leafCertificate: Buffer;
  intermediateCertificates: Buffer[];
  validUntil: { seconds: string; nanos: number };
}
type IdentityClient = grpc.Client & {
  Certify(
    request: { identity: string; token: Buffer; certificateSigningRequest: Buffer },
    callback: (err: grpc.ServiceError | null, response?: CamelResponse) => void,
  ): grpc.ClientUnaryCall;
};

let ca: TestCa;
let server: IdentityGrpcServer;
const seen: CertifyInput[] = [];

beforeAll(async () => {
  ca = await createTestCa();
  const serving = new ServingCredentialsSource(await createServerCertificate(ca));
  server = await startIdentityGrpcServer({
    host: '127.0.0.1',
    port: 0,
    serving,
    logger: silentLogger,
    certify: async (req) => {
      seen.push(req);
      return { leafDer: Buffer.from('leaf'), intermediatesDer: [Buffer.from('issuer')], validUntil: new Date(1_900_000_000_500) };
    },
  });
});
afterAll(async () => {
  await server?.close();
});

it('a client generated from identity.proto alone gets a CertifyResponse', async () => {
  const definition = loadSync('io/linkerd/proxy/identity/identity.proto', { includeDirs: [PROTO_DIR], longs: String });
  const pkg = grpc.loadPackageDefinition(definition) as unknown as {
    io: { linkerd: { proxy: { identity: { Identity: grpc.ServiceClientConstructor } } } };
  };
  const Identity = pkg.io.linkerd.proxy.identity.Identity;
  const client = new Identity(`127.0.0.1:${server.port}`, grpc.credentials.createSsl(Buffer.from(ca.certificatePem)), {
    'grpc.ssl_target_name_override': IDENTITY_SERVICE_NAME,
  }) as unknown as IdentityClient;
  try {
    const response = await new Promise<CamelResponse>((resolve, reject) =>
      client.Certify(
        { identity: 'web.demo.serviceaccount.identity.linkerd.cluster.local', token: Buffer.from('tok'), certificateSigningRequest: Buffer.from([0x30]) },
        (err, res) => (err ? reject(err) : resolve(res!)),
      ),
    );
    expect(response.leafCertificate.toString()).toBe('leaf');
    expect(response.intermediateCertificates.map((b) => b.toString())).toEqual(['issuer']);
    expect(response.validUntil).toEqual({ seconds: '1900000000', nanos: 500_000_000 });
    expect(seen).toHaveLength(1);
    expect(seen[0]!.identity).toBe('web.demo.serviceaccount.identity.linkerd.cluster.local');
    expect(Buffer.from(seen[0]!.token).toString()).toBe('tok');
    expect(Buffer.from(seen[0]!.csr)).toEqual(Buffer.from([0x30]));
  } finally {
    client.close();
  }
});
