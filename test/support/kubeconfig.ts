import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { KubeConfig } from '@kubernetes/client-node';
import { stringify } from 'yaml';

/** What a kubeconfig needs from a (test) API server. */
export interface ApiEndpoint {
  url: string;
  caPem: string;
  adminToken: string;
}

export interface KubeConfigOptions {
  /** The bearer token; the server's admin token by default. */
  token?: string;
  /** The context's namespace. */
  namespace?: string;
}

/** A kubeconfig document as `kubectl config view --raw` prints it: CA inline, token auth. */
export function kubeConfigYaml(api: ApiEndpoint, options: KubeConfigOptions = {}): string {
  const context: Record<string, string> = { cluster: 'test', user: 'test' };
  if (options.namespace) context['namespace'] = options.namespace;
  return stringify({
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name: 'test', cluster: { server: api.url, 'certificate-authority-data': Buffer.from(api.caPem).toString('base64') } }],
    users: [{ name: 'test', user: { token: options.token ?? api.adminToken } }],
    contexts: [{ name: 'test', context }],
    'current-context': 'test',
  });
}

/** Writes `<dir>/kubeconfig` and returns its path, for code that takes a --kubeconfig file. */
export async function writeKubeConfig(api: ApiEndpoint, dir: string, options: KubeConfigOptions = {}): Promise<string> {
  const path = join(dir, 'kubeconfig');
  await writeFile(path, kubeConfigYaml(api, options), { mode: 0o600 });
  return path;
}

/** A KubeConfig for the server, parsed by the client library from the same document a file would hold. */
export function kubeConfigFor(api: ApiEndpoint, options: KubeConfigOptions = {}): KubeConfig {
  const kc = new KubeConfig();
  kc.loadFromString(kubeConfigYaml(api, options));
  return kc;
}
