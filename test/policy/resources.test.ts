import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { NotFoundError } from '../../common/errors.ts';
import { loadResources, parseManifest, resourcesFromManifests } from '../../policy/resources/load.ts';
import { formatProblem, PolicyValidationError } from '../../policy/resources/problems.ts';
import { FIXTURES } from './support.ts';

const doc = (body: string) => `apiVersion: policy.linkerd.io/v1beta3\nkind: Server\nmetadata: { name: api, namespace: demo }\n${body}`;
const messages = (text: string, file = 'policy.yaml') => parseManifest(text, file).problems.map(formatProblem);

async function loadError(path: string): Promise<PolicyValidationError> {
  const err = await loadResources([path]).then(() => undefined, (e: unknown) => e);
  expect(err).toBeInstanceOf(PolicyValidationError);
  return err as PolicyValidationError;
}

describe('reading resources as users write them', () => {
  it('several documents per file, every kind, typed', async () => {
    const text = await readFile(join(FIXTURES, 'authorization-policy.yaml'), 'utf8');
    const parsed = parseManifest(text, 'authorization-policy.yaml');
    expect(parsed.problems).toEqual([]);
    const { resources } = resourcesFromManifests([parsed]);
    expect(resources.servers.map((s) => s.meta.name)).toEqual(['api-http', 'api-grpc', 'api-admin', 'api-metrics', 'api-public', 'api-legacy']);
    expect(resources.servers[0]).toMatchObject({ port: 'http', proxyProtocol: 'HTTP/1', accessPolicy: 'deny', podSelector: { matchLabels: { app: 'api' }, matchExpressions: [] } });
    expect(resources.authorizationPolicies).toHaveLength(7);
    expect(resources.authorizationPolicies[0]).toMatchObject({
      target: { kind: 'Server', name: 'api-http' },
      identityRef: { kind: 'ServiceAccount', name: 'web', namespace: 'demo' },
      networkRef: null,
    });
    expect(resources.meshTLSAuthentications.map((m) => `${m.meta.namespace}/${m.meta.name}`)).toEqual(['shared/frontends', 'demo/ops']);
    expect(resources.networkAuthentications[0]!.networks.map((n) => [n.cidr.text, n.except.map((e) => e.text)])).toEqual([
      ['10.20.0.0/16', ['10.20.99.0/24', '10.20.7.7/32']],
      ['fd00:20::/32', ['fd00:20:0:99::/64']],
    ]);
    expect(resources.pods[0]).toMatchObject({ serviceAccountName: 'api', podIPs: ['10.1.0.5'] });
    expect(resources.pods[0]!.ports[0]).toEqual({ container: 'app', name: 'http', containerPort: 8080, protocol: 'TCP' });
    expect(resources.namespaces.map((n) => n.meta.name)).toEqual(['demo']);
    expect(resources.serviceAccounts.map((s) => s.meta.name)).toEqual(['web']);
  });

  it('directories, recursively: *.yaml, *.yml and *.json; dot-entries and other files skipped; List items read', async () => {
    const loaded = await loadResources([join(FIXTURES, 'dir')]);
    expect(loaded.files.map((f) => f.slice(join(FIXTURES, 'dir').length + 1))).toEqual(['nested/deeper/policy.json', 'nested/pods.yml', 'servers.yaml']);
    expect(loaded.resources.servers).toHaveLength(1);
    expect(loaded.resources.pods.map((p) => p.meta.name)).toEqual(['api-0', 'web-0']);
    expect(loaded.resources.pods[1]!.source).toMatchObject({ document: 1, item: 1 });
    expect(loaded.resources.authorizationPolicies).toHaveLength(1);
    expect(loaded.ignored).toEqual([expect.objectContaining({ apiVersion: 'apps/v1', kind: 'Deployment' })]);
  });

  it('the namespace defaults to "default"; creationTimestamp may be null or RFC 3339', () => {
    const text = [
      'apiVersion: v1\nkind: Pod\nmetadata: { name: p, creationTimestamp: null }\nspec: { containers: [{ name: a }] }',
      'apiVersion: policy.linkerd.io/v1beta3\nkind: Server\nmetadata: { name: api, namespace: demo, creationTimestamp: "2024-01-02T03:04:05Z" }\nspec: { podSelector: {}, port: 80 }',
    ].join('\n---\n');
    const parsed = parseManifest(text, 'x.yaml');
    expect(parsed.problems.map(formatProblem)).toEqual([]);
    expect(parsed.resources[0]!.meta.namespace).toBe('default');
    expect(parsed.resources[1]!.meta.creationTimestamp).toBe(Date.parse('2024-01-02T03:04:05Z'));
  });

  it('a missing path is NotFoundError', async () => {
    await expect(loadResources([join(FIXTURES, 'no-such-dir')])).rejects.toThrow(NotFoundError);
  });
});

describe('validation errors: file, document, field path and reason', () => {
  it('formats as kubectl would locate it', () => {
    const text = 'apiVersion: v1\nkind: Namespace\nmetadata: { name: demo }\n---\n---\n' + doc('spec:\n  podSelector: {}\n  port: 0\n');
    expect(messages(text)).toEqual(['policy.yaml (document 3): Server demo/api: spec.port: must be a port number 1-65535 or a port name (got 0)']);
    expect(messages(doc('spec: { podSelector: {}, port: "8080" }\n'))[0]).toContain('spec.port: must be a port number 1-65535 or a port name (got "8080")');
    expect(messages(doc('spec: { podSelector: {}, port: Http }\n'))[0]).toContain('spec.port: must be a port number');
  });

  it('locates a List item', () => {
    const text = 'apiVersion: v1\nkind: List\nitems:\n  - { apiVersion: v1, kind: Namespace, metadata: { name: ok } }\n  - { apiVersion: v1, kind: Namespace, metadata: { name: Bad_Name } }\n';
    expect(messages(text)).toEqual(['policy.yaml (document 1, item 1): Namespace Bad_Name: metadata.name: "Bad_Name" is not a valid Namespace name']);
  });

  it('collects every error of every file, and refuses the whole set', async () => {
    const err = await loadError(join(FIXTURES, 'invalid'));
    const lines = err.problems.map(formatProblem).map((l) => l.slice(l.indexOf('invalid/')));
    expect(lines).toHaveLength(24);
    expect(err.message.split('\n')).toHaveLength(25);
    expect(lines).toEqual(expect.arrayContaining([
      'invalid/more.yaml (document 1): kind: unknown kind "server" (kinds are case-sensitive: Server)',
      expect.stringMatching(/^invalid\/more\.yaml \(document 2\): YAML: Flow sequence .* at line 7, column 1$/),
      'invalid/more.yaml (document 3): MeshTLSAuthentication demo/bad-ids: spec.identities[1]: "web.*.cluster.local" is not an identity (a DNS-like name, "*", "*.suffix" or a SPIFFE ID)',
      'invalid/policy.yaml (document 2): Server demo/api: spec.proxyProtocol: must be one of unknown, HTTP/1, HTTP/2, gRPC, opaque, TLS (got "http")',
      'invalid/policy.yaml (document 3): Server demo/old: spec.accessPolicy: unknown field in v1beta1 (accessPolicy needs policy.linkerd.io/v1beta3)',
      'invalid/policy.yaml (document 3): Server demo/old: spec.podSelector.matchExpressions[0].operator: must be one of In, NotIn, Exists, DoesNotExist (got "Within")',
      'invalid/policy.yaml (document 7): AuthorizationPolicy demo/elsewhere: spec.requiredAuthenticationRef: unknown field',
      'invalid/policy.yaml (document 8): NetworkAuthentication demo/nets: spec.networks[0].cidr: "10.0.0.0/33" is not a CIDR block or an IP address',
      'invalid/policy.yaml (document 8): NetworkAuthentication demo/nets: spec.networks[1].except[0]: 10.2.0.0/24 is not inside 10.1.0.0/16',
      'invalid/policy.yaml (document 8): NetworkAuthentication demo/nets: spec.networks[1].except[1]: 10.0.0.0/8 removes all of 10.1.0.0/16',
      'invalid/policy.yaml (document 10): ServerAuthorization demo/nobody: spec.server: set name or selector, not both',
      'invalid/policy.yaml (document 10): ServerAuthorization demo/nobody: spec.client.meshTLS: authorizes no clients (set identities, serviceAccounts or unauthenticatedTLS: true)',
      'invalid/policy.yaml (document 11): Server demo/ancient: apiVersion: "policy.linkerd.io/v1alpha1" is not a supported version of Server (use policy.linkerd.io/v1beta1, policy.linkerd.io/v1beta2 or policy.linkerd.io/v1beta3)',
      'invalid/policy.yaml (document 12): Pod demo/api-0: metadata.labels.version: must be a string (got number; quote it in YAML)',
      'invalid/policy.yaml (document 12): Pod demo/api-0: spec.containers[0].ports[0].containerPort: must be a port number 1-65535 (got 70000)',
    ]));
  });

  it('a missing group on a reference: refused, saying the policy would grant nothing', async () => {
    const lines = (await loadError(join(FIXTURES, 'invalid'))).problems.map(formatProblem);
    expect(lines).toContainEqual(expect.stringContaining(
      'invalid/policy.yaml (document 4): AuthorizationPolicy demo/no-group: spec.requiredAuthenticationRefs[0].group: MeshTLSAuthentication is in group policy.linkerd.io, but the reference has no group (the core group); the policy would grant nothing, so it is refused',
    ));
    expect(lines).toContainEqual(expect.stringContaining('(document 5): AuthorizationPolicy demo/server-without-group: spec.targetRef.group: Server is in group policy.linkerd.io'));
  });

  it('unsupported kinds are invalid: target, authentication and identity references', async () => {
    const lines = (await loadError(join(FIXTURES, 'invalid'))).problems.map(formatProblem);
    expect(lines).toContainEqual(expect.stringContaining('(document 6): AuthorizationPolicy demo/odd-refs: spec.requiredAuthenticationRefs[0].kind: unsupported authentication kind Deployment.apps'));
    expect(lines).toContainEqual(expect.stringContaining('(document 6): AuthorizationPolicy demo/odd-refs: spec.requiredAuthenticationRefs: only a single NetworkAuthentication may be set'));
    expect(lines).toContainEqual(expect.stringContaining('(document 9): MeshTLSAuthentication demo/ids: spec.identityRefs[0].kind: unsupported identity reference kind Pod'));
    const target = messages('apiVersion: policy.linkerd.io/v1alpha1\nkind: AuthorizationPolicy\nmetadata: { name: p, namespace: demo }\nspec:\n  targetRef: { group: apps, kind: Deployment, name: api }\n  requiredAuthenticationRefs: []\n');
    expect(target).toEqual(['policy.yaml (document 1): AuthorizationPolicy demo/p: spec.targetRef.kind: unsupported target kind Deployment.apps: must be a Server, a Namespace, an HTTPRoute or a GRPCRoute']);
  });

  it('a Namespace target must be the policy\'s own namespace; one identity reference at most', () => {
    const ap = (refs: string, target = '{ kind: Namespace, name: demo }') =>
      messages(`apiVersion: policy.linkerd.io/v1alpha1\nkind: AuthorizationPolicy\nmetadata: { name: p, namespace: demo }\nspec:\n  targetRef: ${target}\n  requiredAuthenticationRefs: ${refs}\n`);
    expect(ap('[]')).toEqual([]);
    expect(ap('[]', '{ kind: Namespace, name: prod }')[0]).toContain('spec.targetRef.name: cannot target another namespace ("prod")');
    expect(ap('[{ kind: ServiceAccount, name: a }, { group: policy.linkerd.io, kind: MeshTLSAuthentication, name: m }]')[0]).toContain(
      'spec.requiredAuthenticationRefs: a MeshTLSAuthentication and a ServiceAccount may not be set together',
    );
    expect(ap('[{ kind: ServiceAccount, name: a }, { kind: serviceaccount, group: core, name: b }]')[0]).toContain('only a single ServiceAccount may be set');
  });

  it('a resource defined twice is refused', () => {
    const text = 'apiVersion: v1\nkind: Namespace\nmetadata: { name: demo }\n---\napiVersion: v1\nkind: Namespace\nmetadata: { name: demo }\n';
    expect(() => resourcesFromManifests([parseManifest(text, 'a.yaml')])).toThrow(
      'a.yaml (document 2): Namespace demo: defined twice (first in a.yaml (document 1))',
    );
  });

  it('documents without apiVersion or kind, or that are not objects, are refused; empty ones are skipped', () => {
    expect(messages('kind: Server\n---\n- a\n---\n')).toEqual([
      'policy.yaml (document 1): apiVersion: required',
      'policy.yaml (document 2): a document must be an object with apiVersion and kind (got list)',
    ]);
  });
});
