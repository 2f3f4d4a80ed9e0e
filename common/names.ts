import { InvalidArgumentError } from './errors.ts';

/** Where identities live: the names that Linkerd's identity scheme is built from. */
export interface IdentityDomain {
  trustDomain: string;
  controlPlaneNamespace: string;
}

export const defaultIdentityDomain: IdentityDomain = {
  trustDomain: 'cluster.local',
  controlPlaneNamespace: 'linkerd',
};

export interface ServiceAccountRef {
  namespace: string;
  name: string;
}

// RFC 1123 label, as Kubernetes requires for namespaces; ServiceAccount names are DNS subdomains,
// but a dot would make the identity name ambiguous, so we accept labels only (as Linkerd does in practice).
const LABEL = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;

export function isDnsLabel(text: string): boolean {
  return LABEL.test(text);
}

export function assertServiceAccountRef(ref: ServiceAccountRef): void {
  if (!isDnsLabel(ref.namespace)) {
    throw new InvalidArgumentError(`namespace "${ref.namespace.slice(0, 80)}" is not a valid DNS label`);
  }
  if (!isDnsLabel(ref.name)) {
    throw new InvalidArgumentError(`service account "${ref.name.slice(0, 80)}" is not a valid DNS label`);
  }
}

/** `SA.NS.serviceaccount.identity.<cp-ns>.<trust-domain>` */
export function identityName(sa: ServiceAccountRef, domain: IdentityDomain): string {
  return `${sa.name}.${sa.namespace}.serviceaccount.identity.${domain.controlPlaneNamespace}.${domain.trustDomain}`;
}

/** `spiffe://<trust-domain>/ns/NS/sa/SA` */
export function spiffeId(sa: ServiceAccountRef, domain: IdentityDomain): string {
  return `spiffe://${domain.trustDomain}/ns/${sa.namespace}/sa/${sa.name}`;
}

/** The identity service's own ServiceAccount: `identity` in the control-plane namespace. */
export function identityServiceAccount(domain: IdentityDomain): ServiceAccountRef {
  return { namespace: domain.controlPlaneNamespace, name: 'identity' };
}

/** `system:serviceaccount:NS:SA`, the username Kubernetes gives a ServiceAccount token. */
export function serviceAccountUsername(sa: ServiceAccountRef): string {
  return `system:serviceaccount:${sa.namespace}:${sa.name}`;
}

export function parseServiceAccountUsername(username: string): ServiceAccountRef | undefined {
  const m = /^system:serviceaccount:([^:]+):([^:]+)$/.exec(username);
  return m ? { namespace: m[1]!, name: m[2]! } : undefined;
}
