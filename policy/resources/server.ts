import { base, type ParseContext } from './context.ts';
import { at, PORT_NAME } from './fields.ts';
import { readSelector } from './selector.ts';
import { DEFAULT_POLICIES, isDefaultPolicyName, PROXY_PROTOCOLS, type DefaultPolicyName, type LabelSelector, type ProxyProtocol, type Server } from './types.ts';

const PORT_REASON = 'must be a port number 1-65535 or a port name';

/** Server, policy.linkerd.io v1beta1 to v1beta3. */
export function parseServer(ctx: ParseContext): Server | undefined {
  const { r, doc, version } = ctx;
  const spec = r.object(doc, 'spec', '', true);
  if (!spec) return undefined;
  const withExternal = version !== 'v1beta1';
  const withAccessPolicy = version === 'v1beta3';
  const allowed = ['podSelector', 'port', 'proxyProtocol'];
  if (withExternal) allowed.push('externalWorkloadSelector');
  if (withAccessPolicy) allowed.push('accessPolicy');
  r.only(spec, 'spec', allowed, (key) => {
    if (key === 'accessPolicy') return `unknown field in ${version} (accessPolicy needs policy.linkerd.io/v1beta3)`;
    if (key === 'externalWorkloadSelector') return 'unknown field in v1beta1 (externalWorkloadSelector needs v1beta2 or later)';
    return undefined;
  });

  const podSelectorObj = r.object(spec, 'podSelector', 'spec');
  const externalObj = withExternal ? r.object(spec, 'externalWorkloadSelector', 'spec') : undefined;
  let podSelector: LabelSelector | null = null;
  if (podSelectorObj) podSelector = readSelector(r, podSelectorObj, 'spec.podSelector');
  if (externalObj) readSelector(r, externalObj, 'spec.externalWorkloadSelector');
  if (podSelectorObj && externalObj) {
    r.fail('spec', 'set podSelector or externalWorkloadSelector, not both');
  } else if (spec.podSelector == null && (!withExternal || spec.externalWorkloadSelector == null)) {
    r.fail('spec.podSelector', withExternal ? 'required (or externalWorkloadSelector)' : 'required');
  }

  const port = readPort(ctx, spec.port);
  const proxyProtocol = (r.string(spec, 'proxyProtocol', 'spec') ?? 'unknown') as ProxyProtocol;
  if (!(PROXY_PROTOCOLS as readonly string[]).includes(proxyProtocol)) {
    r.fail('spec.proxyProtocol', `must be one of ${PROXY_PROTOCOLS.join(', ')} (got "${proxyProtocol}")`);
  }
  let accessPolicy: DefaultPolicyName = 'deny';
  const access = withAccessPolicy ? r.string(spec, 'accessPolicy', 'spec') : undefined;
  if (access !== undefined) {
    if (isDefaultPolicyName(access)) accessPolicy = access;
    else r.fail('spec.accessPolicy', `must be one of ${DEFAULT_POLICIES.join(', ')} (got "${access}")`);
  }
  if (port === undefined) return undefined;
  return { ...base(ctx, 'Server'), podSelector, port, proxyProtocol, accessPolicy };
}

function readPort({ r }: ParseContext, value: unknown): number | string | undefined {
  const field = at('spec', 'port');
  if (value === undefined || value === null) return r.fail(field, `required (${PORT_REASON})`);
  if (typeof value === 'number' && Number.isInteger(value) && value >= 1 && value <= 65535) return value;
  if (typeof value === 'string' && PORT_NAME.test(value)) return value;
  const got = typeof value === 'string' ? `"${value.slice(0, 40)}"` : JSON.stringify(value);
  return r.fail(field, `${PORT_REASON} (got ${got})`);
}
