import { parseIp } from '../net/cidr.ts';
import { base, type ParseContext } from './context.ts';
import { at, DNS_SUBDOMAIN, PORT_NAME } from './fields.ts';
import type { ContainerPort, Namespace, Pod, ServiceAccount } from './types.ts';

const PROTOCOLS = ['TCP', 'UDP', 'SCTP'] as const;

/** Pod (v1): labels and annotations (from metadata), container ports, service account, IPs. */
export function parsePod(ctx: ParseContext): Pod | undefined {
  const { r, doc } = ctx;
  const spec = r.object(doc, 'spec', '', true);
  const ports: ContainerPort[] = [];
  let serviceAccountName = 'default';
  if (spec) {
    serviceAccountName =
      r.string(spec, 'serviceAccountName', 'spec', { pattern: DNS_SUBDOMAIN, patternHint: 'a ServiceAccount name' }) ??
      r.string(spec, 'serviceAccount', 'spec', { pattern: DNS_SUBDOMAIN, patternHint: 'a ServiceAccount name' }) ??
      'default';
    const containers = r.objects(spec, 'containers', 'spec', true) ?? [];
    if (Array.isArray(spec.containers) && spec.containers.length === 0) r.fail('spec.containers', 'must have at least one container');
    for (const { value: container, path } of containers) {
      const name = r.string(container, 'name', path, { required: true }) ?? '';
      for (const { value: port, path: p } of r.objects(container, 'ports', path) ?? []) {
        const number = port.containerPort;
        if (typeof number !== 'number' || !Number.isInteger(number) || number < 1 || number > 65535) {
          r.fail(at(p, 'containerPort'), number === undefined ? 'required' : `must be a port number 1-65535 (got ${JSON.stringify(number)})`);
          continue;
        }
        const portName = r.string(port, 'name', p, { pattern: PORT_NAME, patternHint: 'a port name (IANA_SVC_NAME: at most 15 lowercase letters, digits and -, with a letter)' });
        const protocol = r.string(port, 'protocol', p) ?? 'TCP';
        if (!(PROTOCOLS as readonly string[]).includes(protocol)) {
          r.fail(at(p, 'protocol'), `must be one of ${PROTOCOLS.join(', ')} (got "${protocol}")`);
          continue;
        }
        ports.push({ container: name, ...(portName !== undefined ? { name: portName } : {}), containerPort: number, protocol: protocol as ContainerPort['protocol'] });
      }
    }
  }
  const podIPs = readPodIps(ctx);
  if (!spec) return undefined;
  return { ...base(ctx, 'Pod'), serviceAccountName, ports, podIPs };
}

function readPodIps({ r, doc }: ParseContext): string[] {
  const status = r.object(doc, 'status', '');
  if (!status) return [];
  const ips = new Set<string>();
  const podIP = r.string(status, 'podIP', 'status');
  if (podIP) ips.add(podIP);
  for (const { value, path } of r.objects(status, 'podIPs', 'status') ?? []) {
    const ip = r.string(value, 'ip', path, { required: true });
    if (ip) ips.add(ip);
  }
  for (const ip of ips) if (!parseIp(ip)) r.fail('status.podIP', `"${ip}" is not an IP address`);
  return [...ips];
}

export function parseNamespace(ctx: ParseContext): Namespace {
  return base(ctx, 'Namespace');
}

export function parseServiceAccount(ctx: ParseContext): ServiceAccount {
  return base(ctx, 'ServiceAccount');
}
