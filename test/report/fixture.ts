/**
 * A home with known numbers for the report: real certificates issued by the real authority into
 * the real ledger (an issuer rotated half-way), decision logs written with `formatDecisionLine`,
 * policy resources, and a finished anchor rotation on record.
 *
 *   certificates (T0 = 2026-08-01T00:00Z): web 1h, api 1h30, web 2h (issuer 1); issuer 2 from 2h30;
 *   web 3h, api 4h (12 h lifetime) (issuer 2)
 *   decisions: 7 mTLS web -> demo/api:8080 from 1h every 20 min, bytes (1000i + 100i), i = 1..7;
 *   3 plaintext 10.0.0.9 -> demo/api:9090 at 3h10, 3h20, 3h30, 1000 bytes each (admitted);
 *   2 refused: the intruder over mTLS at 4h, plaintext 10.0.0.66 at 4h30
 *   now = T0 + 6h
 */
import { createPublicKey } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ManualClock } from '../../common/clock.ts';
import { identityName } from '../../common/names.ts';
import { CertificateAuthority } from '../../identity/authority/authority.ts';
import { IssuerHolder } from '../../identity/authority/issuer-holder.ts';
import { LedgerWriter } from '../../identity/ledger/index.ts';
import { LocalJwtValidator } from '../../identity/validators/local-jwt-validator.ts';
import { formatDecisionLine, type DecisionRecord } from '../../policy/audit/decision-log.ts';
import { createIssuer } from '../../trust-anchors/certificates.ts';
import { parseP256PrivateKey, privateKeyToPem } from '../../trust-anchors/keys.ts';
import { decodeCertificates } from '../../trust-anchors/pem.ts';
import { validateBundle, validateIssuer } from '../../trust-anchors/trust.ts';
import { makeCsr } from '../support/csr.ts';
import { makeTestHome, testDomain, type TestHome } from '../support/home.ts';

export const T0 = Date.parse('2026-08-01T00:00:00Z');
export const HOUR = 3_600_000;
export const MINUTE = 60_000;
export const NOW = new Date(T0 + 6 * HOUR);

export const web = { namespace: 'demo', name: 'web' };
export const api = { namespace: 'demo', name: 'api' };
export const webId = identityName(web, testDomain);
export const apiId = identityName(api, testDomain);
export const intruderId = identityName({ namespace: 'demo', name: 'intruder' }, testDomain);

export const DEFAULT_LIFETIME_MS = 24 * HOUR + 20_000; // 24 h, notBefore backdated 20 s
export const SHORT_LIFETIME_MS = 12 * HOUR + 20_000;
export const ISSUER2_LIFETIME_MS = 45 * 86_400_000;

export interface ReportFixture {
  t: TestHome;
  home: string;
  decisionsDir: string;
  policyDir: string;
  issuer1: string;
  issuer2: string;
  anchor: string;
  cleanup(): Promise<void>;
}

let uuid = 0;
export function decision(minutesAfterT0: number, fields: Partial<DecisionRecord>): DecisionRecord {
  uuid++;
  return {
    v: 1,
    time: new Date(T0 + minutesAfterT0 * MINUTE).toISOString(),
    pod: 'demo/api',
    port: 8080,
    clientIdentity: webId,
    clientIp: '10.0.0.5',
    tls: true,
    decision: 'allow',
    server: 'demo/api',
    authorization: 'AuthorizationPolicy/demo/api-from-web',
    reason: 'admitted by AuthorizationPolicy demo/api-from-web',
    bytesIn: 0,
    bytesOut: 0,
    durationMs: 10,
    decisionId: `00000000-0000-4000-8000-${String(uuid).padStart(12, '0')}`,
    ...fields,
  };
}

export function fixtureDecisions(): { admitted: DecisionRecord[]; refused: DecisionRecord[] } {
  const mtls = Array.from({ length: 7 }, (_, k) => decision(60 + 20 * k, { bytesIn: 1000 * (k + 1), bytesOut: 100 * (k + 1) }));
  const plaintext = [190, 200, 210].map((m) =>
    decision(m, { port: 9090, clientIdentity: null, clientIp: '10.0.0.9', tls: false, server: null, authorization: 'default/all-unauthenticated', reason: 'admitted by the default policy all-unauthenticated', bytesIn: 400, bytesOut: 600 }),
  );
  const refused = [
    decision(240, { clientIdentity: intruderId, clientIp: '10.0.0.7', decision: 'deny', authorization: null, reason: 'no authorization of Server demo/api admits intruder' }),
    decision(270, { clientIdentity: null, clientIp: '10.0.0.66', tls: false, decision: 'deny', authorization: null, reason: 'no authorization of Server demo/api admits an unauthenticated client' }),
  ];
  return { admitted: [...mtls, ...plaintext], refused };
}

const POLICY = `apiVersion: v1
kind: Namespace
metadata: { name: demo }
---
apiVersion: v1
kind: Pod
metadata: { name: api, namespace: demo, labels: { app: api } }
spec:
  serviceAccountName: api
  containers:
    - name: api
      ports:
        - { name: http, containerPort: 8080, protocol: TCP }
        - { name: admin, containerPort: 9090, protocol: TCP }
---
apiVersion: v1
kind: Pod
metadata: { name: web, namespace: demo, labels: { app: web } }
spec:
  serviceAccountName: web
  containers:
    - name: web
      ports:
        - { name: http, containerPort: 8080, protocol: TCP }
---
apiVersion: policy.linkerd.io/v1beta3
kind: Server
metadata: { name: api, namespace: demo }
spec: { podSelector: { matchLabels: { app: api } }, port: http, proxyProtocol: unknown, accessPolicy: deny }
---
apiVersion: policy.linkerd.io/v1beta3
kind: Server
metadata: { name: web, namespace: demo }
spec: { podSelector: { matchLabels: { app: web } }, port: http, proxyProtocol: unknown, accessPolicy: audit }
---
apiVersion: policy.linkerd.io/v1alpha1
kind: MeshTLSAuthentication
metadata: { name: web, namespace: demo }
spec: { identityRefs: [{ kind: ServiceAccount, name: web }] }
---
apiVersion: policy.linkerd.io/v1alpha1
kind: AuthorizationPolicy
metadata: { name: api-from-web, namespace: demo }
spec:
  targetRef: { group: policy.linkerd.io, kind: Server, name: api }
  requiredAuthenticationRefs: [{ group: policy.linkerd.io, kind: MeshTLSAuthentication, name: web }]
`;

export async function makeReportFixture(): Promise<ReportFixture> {
  const clock = new ManualClock(T0);
  const t = await makeTestHome({ clock });
  const holder = new IssuerHolder(t.issuer);
  const ledger = await LedgerWriter.open(join(t.home, 'ledger.jsonl'), { clock });
  const validator = new LocalJwtValidator({ verificationKey: t.tokenPublicKey, trustDomain: testDomain.trustDomain, clock });
  const authority = (leafLifetimeMs?: number) =>
    new CertificateAuthority({ issuers: holder, validator, recorder: ledger, domain: testDomain, clock, ...(leafLifetimeMs ? { leafLifetimeMs } : {}) });
  const daily = authority();
  const certify = async (sa: typeof web, at: number, ca = daily) => {
    clock.set(T0 + at);
    await ca.certify({ identity: identityName(sa, testDomain), token: Buffer.from(await t.token(sa, { clock })), csr: await makeCsr({ dns: [identityName(sa, testDomain)] }) });
  };
  await certify(web, HOUR);
  await certify(api, HOUR + 30 * MINUTE);
  await certify(web, 2 * HOUR);

  // The issuer is rotated at 2h30 (as rotate-issuer does: a new one signed by the same anchor).
  clock.set(T0 + 2 * HOUR + 30 * MINUTE);
  const anchor = await t.store.readAnchor();
  const anchorKey = parseP256PrivateKey(anchor.privateKeyPem, 'anchor');
  const next = await createIssuer({
    commonName: 'identity.linkerd.cluster.local',
    lifetimeMs: ISSUER2_LIFETIME_MS,
    clock,
    signer: { certificateDer: decodeCertificates(anchor.certificatePem, 'anchor')[0]!, keys: { privateKey: anchorKey, publicKey: createPublicKey(anchorKey) } },
  });
  await t.store.writeIssuer({ certificatePem: next.certificatePem, privateKeyPem: privateKeyToPem(next.keys.privateKey), caPem: anchor.certificatePem });
  const issuer2 = validateIssuer(await t.store.readIssuer(), validateBundle(await t.store.readBundle(), clock.now()), clock.now());
  holder.swap(issuer2);

  await certify(web, 3 * HOUR);
  await certify(api, 4 * HOUR, authority(12 * HOUR));
  await ledger.close();

  // Decision logs: a rotated pair in the directory, refusals in a directory below it (one per proxy), one bad line.
  const decisionsDir = join(t.home, 'mesh', 'decisions');
  await mkdir(join(decisionsDir, 'api-admin'), { recursive: true });
  const { admitted, refused } = fixtureDecisions();
  await writeFile(join(decisionsDir, 'decisions.jsonl.1'), admitted.slice(0, 5).map(formatDecisionLine).join(''));
  await writeFile(join(decisionsDir, 'decisions.jsonl'), admitted.slice(5).map(formatDecisionLine).join('') + '{"v":1,"time":"garbage"}\n');
  await writeFile(join(decisionsDir, 'api-admin', 'decisions.jsonl'), refused.map(formatDecisionLine).join(''));

  const policyDir = join(t.home, 'mesh', 'policy');
  await mkdir(policyDir, { recursive: true });
  await writeFile(join(policyDir, 'policy.yaml'), POLICY);

  // A finished anchor rotation, in the shape trust-anchors/rotation writes.
  const anchorFacts = { fingerprint: t.bundle.anchors[0]!.fingerprint, subject: t.bundle.anchors[0]!.subject, notAfter: t.bundle.anchors[0]!.notAfter.toISOString() };
  await writeFile(
    join(t.home, 'rotation-last.json'),
    JSON.stringify({
      version: 1,
      id: 'rot-1',
      store: `directory ${t.home}`,
      startedAt: new Date(T0 + 5 * MINUTE).toISOString(),
      updatedAt: new Date(T0 + 9 * MINUTE).toISOString(),
      completed: 'retire',
      running: null,
      aborting: null,
      oldAnchor: { ...anchorFacts, fingerprint: 'a'.repeat(64), subject: 'CN=old-root' },
      newAnchor: anchorFacts,
      oldBundle: { pem: '', fingerprint: 'b'.repeat(64) },
      transitionBundleFingerprint: 'c'.repeat(64),
      finalBundleFingerprint: 'd'.repeat(64),
      previousIssuer: null,
      newIssuer: null,
      retiredAnchorDir: 'anchor-retired-2026-08-01',
      phases: [
        { step: 'prepare', startedAt: new Date(T0 + 5 * MINUTE).toISOString(), finishedAt: new Date(T0 + 6 * MINUTE).toISOString(), durationMs: 60_000 },
        { step: 'retire', startedAt: new Date(T0 + 8 * MINUTE).toISOString(), finishedAt: new Date(T0 + 9 * MINUTE).toISOString(), durationMs: 60_000 },
      ],
      outcome: 'completed',
      finishedAt: new Date(T0 + 9 * MINUTE).toISOString(),
    }),
  );

  return {
    t,
    home: t.home,
    decisionsDir,
    policyDir,
    issuer1: t.issuer.certificate.fingerprint,
    issuer2: issuer2.certificate.fingerprint,
    anchor: t.bundle.anchors[0]!.fingerprint,
    cleanup: () => t.cleanup(),
  };
}
