/**
 * The acceptance tests' mesh, as real processes on 127.0.0.1 ephemeral ports, wired as
 * mesh/local-mesh.ts wires it: `identity serve` over a fresh test home, then api's proxy (inbound to
 * the test's application), then web's proxy with one outbound route to api's inbound listener.
 *
 *   test client ──> web proxy outbound ══ mTLS 1.3 ══> api proxy inbound ──> test application
 */
import { join } from 'node:path';
import { makeTestHome, type TestHome } from '../../support/home.ts';
import { idOf } from './mesh.ts';
import { ProcessSet, startIdentityProcess, startProxyProcess, type IdentityProcess, type ProxyProcess } from './processes.ts';

export const WEB = idOf('web');
export const API = idOf('api');

export interface ProcessMesh {
  home: TestHome;
  processes: ProcessSet;
  identity: IdentityProcess;
  /** api's proxy: inbound to the application. */
  api: ProxyProcess;
  /** web's proxy: `outboundPort` leads to api. */
  web: ProxyProcess;
  outboundPort: number;
  /** Stops every process (also on a failed test) and removes the home. */
  close(): Promise<void>;
}

export interface ProcessMeshOptions {
  /** The application behind api's proxy. */
  appPort: number;
  /** `identity serve --leaf-lifetime`. */
  leafLifetime?: string;
  /** `identity serve --listen` (default 127.0.0.1:0). */
  identityListen?: string;
  /** Flags for both proxies, e.g. `['--min-refresh', '1s']`. */
  proxyFlags?: string[];
}

export async function startProcessMesh(o: ProcessMeshOptions): Promise<ProcessMesh> {
  const home = await makeTestHome();
  const processes = new ProcessSet(join(home.home, 'logs'));
  const close = async () => {
    await processes.stopAll();
    // ACCEPTANCE_KEEP_LOGS=1 keeps the home and the processes' logs (<home>/logs) for a post-mortem.
    if (process.env.ACCEPTANCE_KEEP_LOGS) console.log(`acceptance: logs kept in ${processes.logDir}`);
    else await home.cleanup();
  };
  try {
    const identity = await startIdentityProcess(processes, {
      home: home.home,
      ...(o.identityListen ? { listen: o.identityListen } : {}),
      ...(o.leafLifetime ? { leafLifetime: o.leafLifetime } : {}),
    });
    const common = { home: home.home, service: identity, extra: o.proxyFlags ?? [] };
    const api = await startProxyProcess(processes, { ...common, name: 'api', identity: API, token: await home.token({ namespace: 'demo', name: 'api' }), appPort: o.appPort });
    const web = await startProxyProcess(processes, {
      ...common,
      name: 'web',
      identity: WEB,
      token: await home.token({ namespace: 'demo', name: 'web' }),
      outbound: [{ port: api.ports.inbound, identity: API }],
    });
    return { home, processes, identity, api, web, outboundPort: web.ports.outbound[0]!, close };
  } catch (err) {
    await close();
    throw err;
  }
}
