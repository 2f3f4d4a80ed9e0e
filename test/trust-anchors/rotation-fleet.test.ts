import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../../common/clock.ts';
import { ConfigError, exitCodeOf, ExitCode } from '../../common/errors.ts';
import { parseIdentityDocument, ProxyAdminError, readProxyTrust, requestRenewal } from '../../proxy/app/admin/fleet-client.ts';
import {
  EmptyFleetError,
  FleetNotConvergedError,
  certifiedUnder,
  holdsBundle,
  parseFleetFile,
  waitForFleet,
  type FleetMember,
  type ProxyTrustReport,
} from '../../trust-anchors/rotation/index.ts';

const A = 'a'.repeat(64);
const B = 'b'.repeat(64);

const servers: Server[] = [];
afterEach(async () => {
  for (const s of servers.splice(0)) {
    s.closeAllConnections();
    await new Promise((r) => s.close(r));
  }
});

/** An admin server answering every request with `handler`; resolves with its host:port. */
async function admin(handler: (method: string, url: string) => { status: number; body: string } | 'hang'): Promise<string> {
  const server = createServer((req, res) => {
    const answer = handler(req.method!, req.url!);
    if (answer === 'hang') return;
    res.writeHead(answer.status, { 'content-type': 'application/json' });
    res.end(answer.body);
  });
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return `127.0.0.1:${(server.address() as AddressInfo).port}`;
}

const doc = (extra: object = {}) => ({
  identity: 'web.demo.serviceaccount.identity.linkerd.cluster.local',
  serial: '01',
  issuer: 'CN=identity',
  bundleFingerprint: A,
  certificateAnchors: [A],
  issuerFingerprint: B,
  notAfter: '2030-01-01T00:00:00.000Z',
  ...extra,
});

describe('the proxy registry file', () => {
  it('ok', () => {
    expect(parseFleetFile('{"proxies":[{"name":"web","admin":"127.0.0.1:4191"},{"name":"api","admin":"[::1]:4192"}]}', 'f')).toEqual([
      { name: 'web', admin: '127.0.0.1:4191' },
      { name: 'api', admin: '[::1]:4192' },
    ]);
  });
  it.each([
    ['not json', '{', /f is not valid JSON/],
    ['no proxies array', '{"proxy":[]}', /must be an object with a "proxies" array/],
    ['an array', '[]', /must be an object with a "proxies" array/],
    ['entry not an object', '{"proxies":[1]}', /proxies\[0\] is not an object/],
    ['name missing', '{"proxies":[{"admin":"127.0.0.1:1"}]}', /proxies\[0\]: "name" must be/],
    ['admin without port', '{"proxies":[{"name":"web","admin":"127.0.0.1"}]}', /proxies\[0\] \(web\): "admin" must be host:port/],
    ['admin port 0', '{"proxies":[{"name":"web","admin":"127.0.0.1:0"}]}', /"admin" must be host:port with a port from 1 to 65535/],
    ['admin a URL', '{"proxies":[{"name":"web","admin":"http://127.0.0.1:4191"}]}', /"admin" must be host:port/],
    ['duplicate name', '{"proxies":[{"name":"web","admin":"127.0.0.1:1"},{"name":"web","admin":"127.0.0.1:2"}]}', /the name "web" appears twice/],
    ['duplicate admin', '{"proxies":[{"name":"a","admin":"127.0.0.1:1"},{"name":"b","admin":"127.0.0.1:1"}]}', /127.0.0.1:1 appears twice/],
  ])('fail/%s', (_name, text, message) => {
    expect(() => parseFleetFile(text, 'f')).toThrow(ConfigError);
    expect(() => parseFleetFile(text, 'f')).toThrow(message);
  });
});

describe('fleet-client: GET /identity, POST /renew', () => {
  it('reads a certified proxy, and one not certified yet (503, same shape)', async () => {
    const ok = await admin(() => ({ status: 200, body: JSON.stringify(doc()) }));
    expect(await readProxyTrust(ok, 1_000)).toEqual({ identity: doc().identity, bundleFingerprint: A, certificateAnchors: [A], issuerFingerprint: B, notAfter: doc().notAfter, serial: doc().serial });
    const waiting = await admin(() => ({ status: 503, body: JSON.stringify(doc({ serial: null, certificateAnchors: [], issuerFingerprint: null, notAfter: null })) }));
    expect(await readProxyTrust(waiting, 1_000)).toMatchObject({ bundleFingerprint: A, certificateAnchors: [], notAfter: null });
  });

  it.each([
    ['not an object', [], /not a JSON object/],
    ['identity empty', doc({ identity: '' }), /"identity" is not a non-empty string/],
    ['bundle fingerprint upper case', doc({ bundleFingerprint: A.toUpperCase() }), /"bundleFingerprint" is not a SHA-256 fingerprint/],
    ['bundle fingerprint short', doc({ bundleFingerprint: 'abc' }), /"bundleFingerprint"/],
    ['certificateAnchors missing (an old proxy)', doc({ certificateAnchors: undefined }), /"certificateAnchors" is missing \(a proxy too old/],
    ['certificateAnchors not fingerprints', doc({ certificateAnchors: ['x'] }), /"certificateAnchors" is not a list/],
    ['issuerFingerprint missing', doc({ issuerFingerprint: undefined }), /"issuerFingerprint" is missing/],
    ['issuerFingerprint malformed', doc({ issuerFingerprint: 7 }), /"issuerFingerprint" is neither null/],
    ['notAfter not a date', doc({ notAfter: 'soon' }), /"notAfter" is neither null nor a date/],
    ['no certificate but anchors', doc({ notAfter: null }), /reports no certificate/],
    ['serial not hex', doc({ serial: 'zz' }), /"serial" is neither null nor a hex serial number/],
  ])('fail/%s', (_name, body, message) => {
    expect(() => parseIdentityDocument(JSON.parse(JSON.stringify(body)))).toThrow(ProxyAdminError);
    expect(() => parseIdentityDocument(JSON.parse(JSON.stringify(body)))).toThrow(message);
  });

  it('fails with the reason: refused, HTTP status, not JSON, no answer in time', async () => {
    const gone = await admin(() => ({ status: 200, body: '' }));
    const s = servers.pop()!;
    await new Promise((r) => s.close(r));
    await expect(readProxyTrust(gone, 1_000)).rejects.toThrow(/^unreachable: ECONNREFUSED$/);
    await expect(readProxyTrust(await admin(() => ({ status: 500, body: '{}' })), 1_000)).rejects.toThrow('GET /identity answered HTTP 500');
    await expect(readProxyTrust(await admin(() => ({ status: 200, body: '<html>' })), 1_000)).rejects.toThrow('not JSON');
    await expect(readProxyTrust(await admin(() => 'hang'), 100)).rejects.toThrow('no answer to GET /identity within 100ms');
    const err = await readProxyTrust(gone, 1_000).catch((e: unknown) => e);
    expect(exitCodeOf(err)).toBe(ExitCode.UNAVAILABLE);
  });

  it('POST /renew: any 2xx is accepted; 404 names the likely cause', async () => {
    const seen: string[] = [];
    const ok = await admin((method, url) => {
      seen.push(`${method} ${url}`);
      return { status: 202, body: '{"renewing":true}' };
    });
    await requestRenewal(ok, 1_000);
    expect(seen).toEqual(['POST /renew']);
    await expect(requestRenewal(await admin(() => ({ status: 404, body: '{}' })), 1_000)).rejects.toThrow('POST /renew answered HTTP 404 (a proxy without the renew endpoint?)');
  });
});

describe('waitForFleet', () => {
  const member = (name: string): FleetMember => ({ name, admin: `127.0.0.1:${name.length}` });
  const report = (bundleFingerprint: string): ProxyTrustReport => ({ identity: 'x', bundleFingerprint, certificateAnchors: [], issuerFingerprint: null, notAfter: null });

  function deps(members: FleetMember[], reports: Record<string, ProxyTrustReport | Error>) {
    const clock = new ManualClock(0);
    const lines: string[] = [];
    return {
      lines,
      deps: {
        fleet: { description: 'test fleet', members: async () => members },
        probe: {
          readTrust: async (m: FleetMember) => {
            const r = reports[m.name]!;
            if (r instanceof Error) throw r;
            return r;
          },
          requestRenewal: async () => undefined,
        },
        clock,
        sleep: async (ms: number) => clock.advance(ms),
        progress: (l: string) => lines.push(l),
      },
    };
  }
  const options = { label: 'wait-bundle', timeoutMs: 10_000, pollIntervalMs: 1_000, allowEmptyFleet: false, resumeHint: 'Resume later.' };

  it('returns once every member meets the condition, showing n of N', async () => {
    const t = deps([member('web'), member('api')], { web: report(A), api: report(A) });
    const round = await waitForFleet(t.deps, holdsBundle(A, 'new'), options);
    expect(round).toEqual({ total: 2, ready: ['web', 'api'], stragglers: [] });
    expect(t.lines).toEqual([`wait-bundle: 2 of 2 proxies hold bundle ${A.slice(0, 16)}… (new)`]);
  });

  it('never moves on while one is missing: names the stragglers and why, bounded by the timeout', async () => {
    const t = deps([member('web'), member('api'), member('db')], {
      web: report(A),
      api: report(B),
      db: new ProxyAdminError('unreachable: ECONNREFUSED'),
    });
    const err = (await waitForFleet(t.deps, holdsBundle(A, 'new', { [B]: 'the old one' }), options).catch((e: unknown) => e)) as FleetNotConvergedError;
    expect(err).toBeInstanceOf(FleetNotConvergedError);
    expect(err.message).toBe(
      `wait-bundle: after 10s, 1 of 3 proxies hold bundle ${A.slice(0, 16)}… (new); stragglers: api: holds bundle ${B.slice(0, 16)}… (the old one), ` +
        'db: unreachable: ECONNREFUSED. Resume later.',
    );
    expect(err.stragglers.map((s) => s.name)).toEqual(['api', 'db']);
    expect(exitCodeOf(err)).toBe(ExitCode.TEMP_FAILURE);
    expect(t.lines).toHaveLength(1); // shown once: nothing changed between rounds
  });

  it('asks again at once a proxy that renewed but still holds a certificate from the old anchor', async () => {
    // The proxy renews on every request; its first renewal lands before the identity service has
    // switched issuers (old anchor B), the second after (new anchor A).
    const clock = new ManualClock(0);
    let serial = 1;
    let asked = 0;
    const current = (): ProxyTrustReport => ({
      identity: 'x',
      bundleFingerprint: A,
      certificateAnchors: [serial >= 3 ? A : B],
      issuerFingerprint: null,
      notAfter: '2030-01-01T00:00:00.000Z', // the same second both times: only the serial tells them apart
      serial: serial.toString(16).padStart(2, '0'),
    });
    const lines: string[] = [];
    const round = await waitForFleet(
      {
        fleet: { description: 'test fleet', members: async () => [member('web')] },
        probe: {
          readTrust: async () => current(),
          requestRenewal: async () => {
            asked++;
            serial++;
          },
        },
        clock,
        sleep: async (ms: number) => clock.advance(ms),
        progress: (l: string) => lines.push(l),
      },
      certifiedUnder([A], 'the new anchor'),
      { ...options, label: 'wait-reissue', renewEveryMs: 60_000 },
    );
    expect(round.ready).toEqual(['web']);
    expect(asked).toBe(2);
    // Well before the 60 s renewal interval: the second request followed the first renewal seen.
    expect(clock.now().getTime()).toBeLessThan(60_000);
  });

  it('an empty fleet is an error unless allowed', async () => {
    const t = deps([], {});
    await expect(waitForFleet(t.deps, holdsBundle(A, 'new'), options)).rejects.toBeInstanceOf(EmptyFleetError);
    expect(await waitForFleet(t.deps, holdsBundle(A, 'new'), { ...options, allowEmptyFleet: true })).toEqual({ total: 0, ready: [], stragglers: [] });
  });
});
