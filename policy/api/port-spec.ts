/**
 * `PortSpec` checked at the boundary. The workload comes in the two forms Linkerd's proxies send:
 * `NS:POD` (before Linkerd 2.15) and JSON `{"ns":"NS","pod":"POD"}` (since, with
 * `external_workload` in place of `pod` for mesh expansion, which this controller does not index).
 */
import { InvalidArgumentError, NotFoundError } from '../../common/errors.ts';
import type { PortSpecMessage } from './messages.ts';

const LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const MAX_WORKLOAD = 512;

export interface PortTarget {
  /** `NS/NAME` */
  pod: string;
  port: number;
}

/** The workload string a proxy of ours sends for `NS/NAME`: the older form, which every Linkerd controller accepts. */
export function workloadOf(pod: string): string {
  const slash = pod.indexOf('/');
  return slash < 0 ? '' : `${pod.slice(0, slash)}:${pod.slice(slash + 1)}`;
}

/**
 * @throws InvalidArgumentError for a workload that is neither form, names that cannot be a
 * namespace or a pod, or a port outside 1-65535; NotFoundError for an external workload.
 */
export function parsePortSpec(spec: PortSpecMessage): PortTarget {
  const { namespace, pod } = parseWorkload(spec.workload ?? '');
  const port = spec.port;
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw new InvalidArgumentError(`Invalid port: ${port}`);
  return { pod: `${namespace}/${pod}`, port };
}

function invalid(workload: string): InvalidArgumentError {
  return new InvalidArgumentError(`Invalid workload: ${JSON.stringify(workload.slice(0, 80))} (expected NS:POD or {"ns":"NS","pod":"POD"})`);
}

function parseWorkload(workload: string): { namespace: string; pod: string } {
  if (workload.length === 0 || workload.length > MAX_WORKLOAD) throw invalid(workload);
  let namespace: unknown;
  let pod: unknown;
  if (workload.startsWith('{')) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(workload);
    } catch {
      throw invalid(workload);
    }
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw invalid(workload);
    const fields = parsed as Record<string, unknown>;
    namespace = fields['ns'];
    pod = fields['pod'];
    if (pod === undefined && typeof fields['external_workload'] === 'string' && typeof namespace === 'string') {
      throw new NotFoundError(`external workload ${namespace}/${fields['external_workload'].slice(0, 80)}: this controller indexes pods only`);
    }
  } else {
    const colon = workload.indexOf(':');
    if (colon < 0) throw invalid(workload);
    namespace = workload.slice(0, colon);
    pod = workload.slice(colon + 1);
  }
  if (typeof namespace !== 'string' || typeof pod !== 'string') throw invalid(workload);
  if (namespace.length > 63 || !LABEL.test(namespace) || pod.length > 253 || !SUBDOMAIN.test(pod)) throw invalid(workload);
  return { namespace, pod };
}
