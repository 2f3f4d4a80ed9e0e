/**
 * `config.linkerd.io/opaque-ports`: ports whose traffic the proxy never protocol-detects. Linkerd
 * reads it from the pod (the injector copies the namespace's value onto pods that lack it); like
 * the default policy, we read the pod's, else the namespace's. Values are comma-separated port
 * numbers, ranges (`4000-4100`) and container port names. It changes only the protocol a port
 * policy carries, never a decision.
 */
import { keyOf, type Namespace, type Pod } from '../resources/types.ts';

export const OPAQUE_PORTS_ANNOTATION = 'config.linkerd.io/opaque-ports';

const NONE: ReadonlySet<number> = new Set();
/** Ranges wider than this are refused rather than expanded (a typo such as 1-65535 would mean every port). */
const MAX_RANGE = 4096;

export function opaquePortsOf(pod: Pod, namespace: Namespace | undefined, notes: string[]): ReadonlySet<number> {
  const own = pod.meta.annotations[OPAQUE_PORTS_ANNOTATION];
  const value = own ?? namespace?.meta.annotations[OPAQUE_PORTS_ANNOTATION];
  if (value === undefined || value.trim() === '') return NONE;
  const ports = new Set<number>();
  const bad: string[] = [];
  for (const raw of value.split(',')) {
    const token = raw.trim();
    if (token === '') continue;
    const range = /^(\d{1,5})(?:-(\d{1,5}))?$/.exec(token);
    if (range) {
      const from = Number(range[1]);
      const to = range[2] === undefined ? from : Number(range[2]);
      if (from < 1 || to > 65535 || to < from || to - from >= MAX_RANGE) bad.push(token);
      else for (let p = from; p <= to; p++) ports.add(p);
      continue;
    }
    const named = pod.ports.filter((p) => p.name === token && p.protocol === 'TCP');
    if (named.length === 0) bad.push(token);
    for (const p of named) ports.add(p.containerPort);
  }
  if (bad.length > 0) {
    const where = own !== undefined ? `Pod ${keyOf(pod.meta)}` : `Namespace ${pod.meta.namespace} (for pod ${keyOf(pod.meta)})`;
    notes.push(`${where}: ${OPAQUE_PORTS_ANNOTATION} lists ${bad.map((b) => `"${b}"`).join(', ')}, which ${bad.length === 1 ? 'is' : 'are'} not a port, a range of at most ${MAX_RANGE} ports or a container port name; ignored`);
  }
  return ports.size > 0 ? ports : NONE;
}
