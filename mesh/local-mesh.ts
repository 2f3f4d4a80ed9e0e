import { createPrivateKey } from 'node:crypto';
import { access, mkdir, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { systemClock } from '../common/clock.ts';
import { formatDuration } from '../common/duration.ts';
import { defaultIdentityDomain, identityName, type ServiceAccountRef } from '../common/names.ts';
import { signLocalServiceAccountToken } from '../identity/validators/local-token.ts';
import { HomeLayout, writeFileAtomic } from '../trust-anchors/directory-store.ts';
import { DEFAULT_ANCHOR_LIFETIME_MS, DEFAULT_ISSUER_LIFETIME_MS, initHome, readHomeConfig } from '../trust-anchors/home.ts';
import { MESH_NAMESPACE, writeMeshPolicy } from './policy.ts';
import { writeMeshReport } from './report.ts';
import { freePort, logEvent, spawnIdentity, spawnTypeScript, type ManagedProcess } from './process.ts';

const APPS = fileURLToPath(new URL('./apps/', import.meta.url));
const TOKEN_TTL_MS = 3_600_000;
const TOKEN_REFRESH_MS = 20 * 60_000; // kubelet refreshes projected tokens well before they expire

export interface LocalMeshOptions {
  home: string;
  /** The identity service's Certify and admin addresses (port 0 for any free port). */
  identityListen: string;
  identityAdminListen: string;
  once: boolean;
  out: (line?: string) => void;
  /** Resolves when the mesh should stop (Ctrl-C). */
  stopSignal: Promise<unknown>;
}

interface Workload {
  sa: ServiceAccountRef;
  identity: string;
  tokenFile: string;
  proxy?: ManagedProcess;
  ports?: { inbound: number; admin: number; outbound: number[] };
}

/** What api's proxy said about the intruder's connection. */
interface Refusal {
  refused: boolean;
  /** The proxy's `inbound.denied` log record for it, when found. */
  record?: Record<string, unknown>;
  denials: number;
}

/**
 * The whole system on one machine, as real processes: the identity service, and two sample
 * applications (`web` calling `api`) that know nothing of TLS, each behind its own proxy, plus an
 * `intruder`: a meshed client with an identity of its own that api's policy does not admit.
 * Every process is on 127.0.0.1, so the policy can only tell them apart by identity (there is no
 * loopback exemption). Returns the exit status: 0 when web -> api went over mutual TLS with both
 * identities verified and the intruder was refused by policy.
 */
export async function runLocalMesh(o: LocalMeshOptions): Promise<number> {
  const { home, out } = o;
  if (!(await exists(join(home, HomeLayout.config)))) {
    await initHome({ home, domain: defaultIdentityDomain, anchorLifetimeMs: DEFAULT_ANCHOR_LIFETIME_MS, issuerLifetimeMs: DEFAULT_ISSUER_LIFETIME_MS, force: false, clock: systemClock });
    out(`created a trust anchor and an issuer in ${home}`);
  }
  const domain = await readHomeConfig(home);
  const meshDir = join(home, 'mesh');
  await mkdir(meshDir, { recursive: true, mode: 0o700 });
  const log = (name: string) => join(meshDir, `${name}.log`);
  const registryFile = join(home, HomeLayout.proxies);
  const processes: ManagedProcess[] = [];
  const tokenKey = createPrivateKey(await readFile(join(home, HomeLayout.tokenKey), 'utf8'));
  const workloads = ['web', 'api', 'intruder'].map((name): Workload => {
    const sa = { namespace: MESH_NAMESPACE, name };
    return { sa, identity: identityName(sa, domain), tokenFile: join(meshDir, `${name}.token`) };
  });
  const [web, api, intruder] = workloads as [Workload, Workload, Workload];
  const writeTokens = () =>
    Promise.all(
      workloads.map(async (w) => {
        const token = await signLocalServiceAccountToken({ signingKey: tokenKey, serviceAccount: w.sa, trustDomain: domain.trustDomain, ttlMs: TOKEN_TTL_MS, clock: systemClock });
        await writeFileAtomic(w.tokenFile, token, 0o600);
      }),
    );
  await writeTokens();
  const tokenTimer = setInterval(() => void writeTokens(), TOKEN_REFRESH_MS);
  tokenTimer.unref();

  try {
    const identity = spawnIdentity('identity', ['serve', '--home', home, '--listen', o.identityListen, '--admin-listen', o.identityAdminListen], log('identity'));
    processes.push(identity);
    const served = await identity.waitForLine(logEvent('serving', (r) => ({ listen: String(r.listen), admin: Number(r.admin), identity: String(r.identity) })));

    const apiApp = spawnTypeScript('api app', join(APPS, 'api.ts'), ['127.0.0.1:0'], log('api-app'));
    processes.push(apiApp);
    const apiPort = await apiApp.waitForLine(logEvent('app.listening', (r) => Number(r.port)));
    const webAppPort = await freePort();

    // Every proxy's decision log, where `identity audit --decisions` and `identity report` read them.
    const decisionsDir = join(meshDir, 'decisions');
    await mkdir(decisionsDir, { recursive: true, mode: 0o700 });
    const proxyArgs = (w: Workload, appPort: number, extra: string[]) => [
      'proxy', '--local-identity', w.identity, '--token-file', w.tokenFile, '--trust-bundle', join(home, HomeLayout.bundle),
      '--identity-addr', served.listen, '--identity-name', served.identity, '--inbound-listen', '127.0.0.1:0',
      '--app', `127.0.0.1:${appPort}`, '--admin-listen', '127.0.0.1:0', '--decision-log', join(decisionsDir, `${w.sa.name}.jsonl`), ...extra,
    ];
    const policyDir = await writeMeshPolicy(join(meshDir, 'policy'), [
      { name: 'web', ports: { http: webAppPort } },
      { name: 'api', ports: { http: apiPort } },
      { name: 'intruder', ports: {} },
    ]);
    // Until the directory is read, and if it ever cannot be, a proxy admits no one: fail closed.
    // Every proxy enforces the same directory for its own pod, with `deny` as the cluster default:
    // a port no Server covers admits no one (zero trust), and what the audit and the report say
    // about the mesh is what its proxies do.
    const policyArgs = (w: Workload) => ['--pod', `${MESH_NAMESPACE}/${w.sa.name}`, '--policy-dir', policyDir, '--default-policy', 'deny'];
    api.proxy = spawnIdentity('api proxy', proxyArgs(api, apiPort, policyArgs(api)), log('api-proxy'));
    processes.push(api.proxy);
    api.ports = await api.proxy.waitForLine(logEvent('proxy.ready', (r) => r.ports as Workload['ports']));
    web.proxy = spawnIdentity('web proxy', proxyArgs(web, webAppPort, [...policyArgs(web), '--outbound', `127.0.0.1:0,127.0.0.1:${api.ports!.inbound},${api.identity}`]), log('web-proxy'));
    processes.push(web.proxy);
    web.ports = await web.proxy.waitForLine(logEvent('proxy.ready', (r) => r.ports as Workload['ports']));
    // The intruder has no application: the mesh itself calls api through the intruder's proxy.
    intruder.proxy = spawnIdentity('intruder proxy', proxyArgs(intruder, await freePort(), [...policyArgs(intruder), '--outbound', `127.0.0.1:0,127.0.0.1:${api.ports!.inbound},${api.identity}`]), log('intruder-proxy'));
    processes.push(intruder.proxy);
    intruder.ports = await intruder.proxy.waitForLine(logEvent('proxy.ready', (r) => r.ports as Workload['ports']));

    // The fleet registry: how `identity rotate-anchor` and `rotate-issuer --renew-now` find these
    // proxies. Removed when the mesh stops, so that a rotation never waits on proxies long gone.
    await writeFileAtomic(
      registryFile,
      `${JSON.stringify({ proxies: workloads.map((w) => ({ name: w.sa.name, admin: `127.0.0.1:${w.ports!.admin}` })) }, null, 2)}\n`,
      0o600,
    );

    const webApp = spawnTypeScript('web app', join(APPS, 'web.ts'), [`127.0.0.1:${webAppPort}`, `127.0.0.1:${web.ports!.outbound[0]}`], log('web-app'));
    processes.push(webApp);
    await webApp.waitForLine(logEvent('app.listening', (r) => Number(r.port)));

    // Traffic: the application calls its api as if nothing were in between.
    const answer = JSON.parse(await httpGet(`http://127.0.0.1:${webAppPort}/`)) as { api?: { app?: string } };
    const refusal = await tryIntrusion(intruder, api);
    const ok = await account(o, served, workloads, answer.api?.app === 'api', refusal);
    if (o.once) return ok ? 0 : 1;

    out('');
    out(`serving; web calls api every 2 s. Logs in ${meshDir}.`);
    out(`api's policy: ${join(policyDir, 'api-policy.yaml')} (edits apply within a second).`);
    out(`rotate the trust anchor with no dropped connection: identity rotate-anchor --home ${home}`);
    out('Ctrl-C to stop.');
    const traffic = setInterval(() => void httpGet(`http://127.0.0.1:${webAppPort}/`).catch(() => undefined), 2_000);
    await Promise.race([o.stopSignal, ...processes.map((p) => p.exited.then((code) => out(`${p.name} exited (code ${code}); stopping`)))]);
    clearInterval(traffic);
    return 0;
  } finally {
    await rm(registryFile, { force: true });
    clearInterval(tokenTimer);
    for (const p of processes.reverse()) await p.stop();
    // After the proxies stopped: they flush their decision logs on the way out.
    await writeMeshReport(home).then(
      (r) => out(`compliance report: ${r.path} (controls: ${r.pass} pass, ${r.fail} fail, ${r.notApplicable} not applicable)`),
      (err: unknown) => out(`compliance report: not written: ${(err as Error).message}`),
    );
  }
}

/**
 * One HTTP request from the intruder's side through its proxy to api. A refusal by policy shows
 * as a reset; api's proxy logs the decision with its reason, and counts it.
 */
async function tryIntrusion(intruder: Workload, api: Workload): Promise<Refusal> {
  const answered = await httpGet(`http://127.0.0.1:${intruder.ports!.outbound[0]}/`).then(
    () => true,
    () => false,
  );
  const record = await api
    .proxy!.waitForLine(
      logEvent('inbound.denied', (r) => (JSON.stringify(r).includes(intruder.identity) ? r : undefined)),
      5_000,
    )
    .catch(() => undefined);
  const denials = await metricSum(api.ports!.admin, 'inbound_tcp_authz_deny_total', [`client_id="${intruder.identity}"`]);
  return { refused: !answered && denials > 0, denials, ...(record ? { record } : {}) };
}

async function account(o: LocalMeshOptions, served: { listen: string; admin: number; identity: string }, workloads: Workload[], answered: boolean, refusal: Refusal): Promise<boolean> {
  const { out } = o;
  const [web, api, intruder] = workloads as [Workload, Workload, Workload];
  out(`identity service   ${served.identity}`);
  out(`  Certify API      ${served.listen}    metrics http://127.0.0.1:${served.admin}/metrics`);
  for (const w of workloads) {
    const doc = JSON.parse(await httpGet(`http://127.0.0.1:${w.ports!.admin}/identity`)) as { identity: string; serial: string; notAfter: string };
    out(`workload ${w.sa.name.padEnd(10)}${doc.identity}`);
    out(`  certificate      serial ${doc.serial.slice(0, 16)}…, expires ${doc.notAfter} (in ${formatDuration(Date.parse(doc.notAfter) - Date.now())})`);
    out(`  proxy            inbound 127.0.0.1:${w.ports!.inbound}, metrics http://127.0.0.1:${w.ports!.admin}/metrics`);
  }
  const serverSaw = await metricSum(api.ports!.admin, 'proxy_tcp_open_total', ['direction="inbound"', 'tls="true"', `peer_identity="${web.identity}"`]);
  const clientSaw = await metricSum(web.ports!.admin, 'proxy_tcp_open_total', ['direction="outbound"', 'tls="true"', `peer_identity="${api.identity}"`]);
  const allowed = await metricSum(api.ports!.admin, 'inbound_tcp_authz_allow_total', [`client_id="${web.identity}"`, 'authz_name="api-from-web"']);
  const webOk = answered && serverSaw > 0 && clientSaw > 0 && allowed > 0;
  out('');
  out(webOk ? 'web -> api: answered over mutual TLS' : 'web -> api: FAILED');
  out(`  api's proxy verified the client as ${web.identity} (${serverSaw} connection(s))`);
  out(`  web's proxy verified the server as ${api.identity} (${clientSaw} connection(s))`);
  out(`  api's policy admitted it: AuthorizationPolicy demo/api-from-web (${allowed} connection(s))`);
  out(refusal.refused ? 'intruder -> api: refused by policy' : 'intruder -> api: NOT REFUSED (FAILED)');
  out(`  api's proxy denied ${intruder.identity} (${refusal.denials} connection(s))`);
  const reason = refusal.record?.reason;
  if (typeof reason === 'string') out(`  reason: ${reason}`);
  if (typeof refusal.record?.decisionId === 'string') out(`  decision id ${refusal.record.decisionId} (api-proxy.log)`);
  return webOk && refusal.refused;
}

/** The sum of a counter's series whose labels include every one of `labels`. */
async function metricSum(adminPort: number, name: string, labels: string[]): Promise<number> {
  const text = await httpGet(`http://127.0.0.1:${adminPort}/metrics`);
  let total = 0;
  for (const line of text.split('\n')) {
    if (line.startsWith(`${name}{`) && labels.every((l) => line.includes(l))) total += Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return total;
}

async function httpGet(url: string): Promise<string> {
  const res = await fetch(url, { signal: AbortSignal.timeout(10_000) });
  return res.text();
}

async function exists(path: string): Promise<boolean> {
  return access(path).then(
    () => true,
    () => false,
  );
}
