/**
 * A port policy as Linkerd's `Server` message, and back. What Linkerd's controller writes, we
 * write: Server labels `group`/`kind`/`name` (`default` kind for a default policy), each Authz with
 * `metadata` (and the deprecated labels older proxies read), explicit networks (0.0.0.0/0 and ::/0
 * for every address), `*` as the empty identity suffix, and audit as a last authorization named
 * `default:audit` that admits everyone. Servers are in the pod's namespace, so names carry none.
 *
 * Three more Server labels carry the reason fragments of a decision (the origin of a default
 * policy, a Server conflict, void policies) so that a proxy explains its decisions as the
 * controller would; Linkerd's proxies read only `group`, `kind` and `name` and ignore the rest.
 */
import { InvalidArgumentError } from '../../common/errors.ts';
import type { Network } from '../net/cidr.ts';
import type { AuthorizationRef, PortAuthentication, PortAuthorization, PortGovernor, PortPolicy } from '../evaluator/port-policy.ts';
import { isDefaultPolicyName, POLICY_GROUP, type DefaultPolicyName, type ProxyProtocol } from '../resources/types.ts';
import { decodeNetworks, encodeNetworks } from './codec-net.ts';
import type { AuthnMessage, AuthzMessage, MetadataMessage, ProxyProtocolMessage, ServerMessage } from './messages.ts';

/** Linkerd's default protocol detection timeout, sent with `detect`. */
export const DETECT_TIMEOUT_SECONDS = 10;
export const ORIGIN_LABEL = 'meshidentity/default-origin';
export const CONFLICT_LABEL = 'meshidentity/conflict';
export const VOID_LABEL = 'meshidentity/void';
const AUDIT = 'audit';

const PROTOCOLS: Record<ProxyProtocol, NonNullable<ProxyProtocolMessage['kind']>> = {
  unknown: 'detect',
  opaque: 'opaque',
  TLS: 'tls',
  'HTTP/1': 'http1',
  'HTTP/2': 'http2',
  gRPC: 'grpc',
};

export function encodePortPolicy(policy: PortPolicy): ServerMessage {
  const kind = PROTOCOLS[policy.protocol];
  const protocol: ProxyProtocolMessage = kind === 'detect' ? { detect: { timeout: { seconds: DETECT_TIMEOUT_SECONDS, nanos: 0 } } } : { [kind]: {} };
  const authorizations = policy.authorizations.map(encodeAuthorization);
  if (policy.fallback === 'audit') authorizations.push(encodeAuthorization({ ref: { kind: 'default', name: AUDIT }, networks: null, clusterNetworks: false, authentication: { kind: 'unauthenticated' } }));
  const g = policy.governor;
  const labels: Record<string, string> = g.kind === 'server' ? { group: POLICY_GROUP, kind: 'server', name: nameOf(g.server) } : { group: '', kind: 'default', name: g.policy };
  if (g.kind === 'default') labels[ORIGIN_LABEL] = g.origin;
  if (policy.conflict) labels[CONFLICT_LABEL] = policy.conflict;
  if (policy.void) labels[VOID_LABEL] = policy.void;
  return { protocol, server_ips: [], authorizations, labels };
}

function nameOf(key: string): string {
  return key.slice(key.indexOf('/') + 1);
}

function encodeAuthorization(authz: Omit<PortAuthorization, 'ref'> & { ref: AuthorizationRef | { kind: 'default'; name: typeof AUDIT } }): AuthzMessage {
  const { ref } = authz;
  const metadata: MetadataMessage =
    ref.kind === 'default' ? { default: ref.name } : { resource: { group: POLICY_GROUP, kind: ref.kind.toLowerCase(), name: ref.name, namespace: ref.namespace, section: '', port: 0 } };
  const labels = ref.kind === 'default' ? { group: '', kind: 'default', name: ref.name } : { group: POLICY_GROUP, kind: ref.kind.toLowerCase(), name: ref.name };
  return { networks: encodeNetworks(authz.networks), authentication: encodeAuthentication(authz.authentication), labels, metadata };
}

function encodeAuthentication(auth: PortAuthentication): AuthnMessage {
  if (auth.kind === 'unauthenticated') return { unauthenticated: {} };
  if (auth.kind === 'tls-unauthenticated') return { meshTLS: { unauthenticated: {} } };
  return {
    meshTLS: {
      identities: {
        identities: auth.identities.map((name) => ({ name })),
        suffixes: auth.suffixes.map((s) => ({ parts: s === '' ? [] : s.slice(1).split('.') })),
      },
    },
  };
}

/** What the client knows that the message does not say: whose port it is, and its cluster networks. */
export interface DecodeContext {
  /** `NS/NAME` */
  pod: string;
  port: number;
  clusterNetworks: readonly Network[];
}

/** A Server message to a port policy. Throws InvalidArgumentError for a message Linkerd's proxy would refuse too. */
export function decodePortPolicy(message: ServerMessage, context: DecodeContext): PortPolicy {
  const namespace = context.pod.slice(0, context.pod.indexOf('/'));
  const authorizations: PortAuthorization[] = [];
  let audit = false;
  message.authorizations.forEach((authz, i) => {
    const what = `authorization ${i}`;
    const ref = decodeRef(authz, namespace, what);
    if (ref.kind === 'default' && ref.name === AUDIT) audit = true;
    else authorizations.push({ ref: ref as AuthorizationRef, ...decodeNetworks(authz.networks, context.clusterNetworks, what), authentication: decodeAuthentication(authz.authentication, what) });
  });
  const labels = message.labels ?? {};
  return {
    pod: context.pod,
    port: context.port,
    governor: decodeGovernor(labels, namespace),
    protocol: decodeProtocol(message.protocol),
    authorizations,
    fallback: audit ? 'audit' : 'deny',
    conflict: labels[CONFLICT_LABEL] ?? '',
    void: labels[VOID_LABEL] ?? '',
  };
}

/** A missing protocol means detection, which is what a proxy does without being told otherwise. */
function decodeProtocol(message: ProxyProtocolMessage | null): ProxyProtocol {
  const names = Object.keys(PROTOCOLS) as ProxyProtocol[];
  const kind = message?.kind ?? names.map((p) => PROTOCOLS[p]).find((k) => message?.[k]);
  return names.find((p) => PROTOCOLS[p] === kind) ?? 'unknown';
}

/** Linkerd's reading of meta labels: `name` required; `kind` default (with an empty group) is a default policy. */
function decodeGovernor(labels: Record<string, string>, namespace: string): PortGovernor {
  const name = labels['name'];
  if (!name) throw new InvalidArgumentError('the Server has no "name" label');
  const group = labels['group'] ?? POLICY_GROUP;
  const kind = labels['kind'];
  const policy = kind === undefined ? (name.startsWith('default:') ? name.slice('default:'.length) : undefined) : group === '' && kind === 'default' ? name : undefined;
  if (policy === undefined) return { kind: 'server', server: `${namespace}/${kind === undefined ? name.slice(name.indexOf(':') + 1) : name}` };
  if (!isDefaultPolicyName(policy)) throw new InvalidArgumentError(`the Server names default policy "${policy.slice(0, 60)}", which is not one`);
  return { kind: 'default', policy, origin: labels[ORIGIN_LABEL] ?? 'as the policy controller says' };
}

function decodeRef(authz: AuthzMessage, namespace: string, what: string): AuthorizationRef | { kind: 'default'; name: typeof AUDIT } {
  const meta = authz.metadata ? metadataRef(authz.metadata) : labelsRef(authz.labels ?? {});
  if (!meta) throw new InvalidArgumentError(`${what}: no metadata or name label`);
  if (meta.kind === 'default') {
    if (meta.name === AUDIT) return { kind: 'default', name: AUDIT };
    if (!isDefaultPolicyName(meta.name)) throw new InvalidArgumentError(`${what}: unknown default authorization "${meta.name.slice(0, 60)}"`);
    return { kind: 'default', name: meta.name as DefaultPolicyName };
  }
  const kind = meta.kind.toLowerCase() === 'authorizationpolicy' ? 'AuthorizationPolicy' : meta.kind.toLowerCase() === 'serverauthorization' ? 'ServerAuthorization' : undefined;
  if (!kind) throw new InvalidArgumentError(`${what}: unsupported authorization kind "${meta.kind.slice(0, 60)}"`);
  return { kind, namespace: meta.namespace || namespace, name: meta.name };
}

function metadataRef(m: MetadataMessage): { kind: string; name: string; namespace: string } | undefined {
  if (typeof m.default === 'string' && (m.kind === 'default' || m.kind === undefined)) return { kind: 'default', name: m.default, namespace: '' };
  if (m.resource) return m.resource.group === '' && m.resource.kind === 'default' ? { kind: 'default', name: m.resource.name, namespace: '' } : { kind: m.resource.kind, name: m.resource.name, namespace: m.resource.namespace };
  return undefined;
}

/** The deprecated labels, read as Linkerd's proxy reads them (kind defaults to serverauthorization). */
function labelsRef(labels: Record<string, string>): { kind: string; name: string; namespace: string } | undefined {
  const name = labels['name'];
  if (!name) return undefined;
  const kind = labels['kind'];
  if (kind !== undefined) return (labels['group'] ?? '') === '' && kind === 'default' ? { kind: 'default', name, namespace: '' } : { kind, name, namespace: '' };
  const colon = name.indexOf(':');
  return colon < 0 ? { kind: 'serverauthorization', name, namespace: '' } : { kind: name.slice(0, colon), name: name.slice(colon + 1), namespace: '' };
}

function decodeAuthentication(m: AuthnMessage | null, what: string): PortAuthentication {
  if (m?.unauthenticated && m.permit !== 'meshTLS') return { kind: 'unauthenticated' };
  const tls = m?.meshTLS;
  if (!tls) throw new InvalidArgumentError(`${what}: no authentication`);
  if (tls.unauthenticated && tls.clients !== 'identities') return { kind: 'tls-unauthenticated' };
  const ids = tls.identities;
  if (!ids) throw new InvalidArgumentError(`${what}: mesh TLS without clients`);
  const suffixes = ids.suffixes.map((s) => (s.parts.length === 0 ? '' : `.${s.parts.join('.')}`));
  if (suffixes.includes('')) return { kind: 'mesh-tls', identities: [], suffixes: [''] };
  return { kind: 'mesh-tls', identities: ids.identities.map((i) => i.name), suffixes };
}
