/** The HTML sections about connections: controls, mTLS coverage, policy coverage, denials. */
import { formatBytes, formatCount, formatLifetime, formatPercent, formatTime } from '../../format.ts';
import type { ComplianceReport } from '../../model.ts';
import { coverageChart } from './coverage-chart.ts';
import { html, type Html } from './escape.ts';
import { figure, mono, section, status, table } from './parts.ts';

export function controlsSection(r: ComplianceReport): Html {
  const s = r.summary;
  return section(
    'controls',
    'Controls',
    html`<p>${s.pass} pass, ${s.fail} fail, ${s.notApplicable} not applicable. Each status is derived from the data in the sections that follow; without data a control is not applicable, never passed.</p>
${table(
  [{ label: 'Status' }, { label: 'Framework' }, { label: 'Reference' }, { label: 'Control' }, { label: 'Evidence' }],
  r.controls.map((c) => [status(c.status), c.framework, c.reference, c.title, c.evidence]),
  'No control.',
)}`,
  );
}

export function mtlsSection(r: ComplianceReport): Html {
  const m = r.mtls;
  const a = m.admitted;
  return section(
    'mtls-coverage',
    'mTLS coverage',
    html`<div class="figures">
${figure('Connections mutually authenticated', formatPercent(m.connectionShare), `${formatCount(a.mtlsConnections)} of ${formatCount(a.connections)} admitted`)}
${figure('Bytes mutually authenticated', formatPercent(m.byteShare), `${formatBytes(a.mtlsBytes)} of ${formatBytes(a.bytes)}`)}
${figure('Plaintext connections admitted', formatCount(a.plaintextConnections), `${formatBytes(a.plaintextBytes)}`)}
${figure('Connections refused', formatCount(m.denied.connections), `${formatCount(m.denied.mtls)} mTLS, ${formatCount(m.denied.plaintext)} plaintext`)}
</div>
<p>Decisions: ${formatCount(m.decisions.total)} (${formatCount(m.decisions.allow)} allow, ${formatCount(m.decisions.audit)} audit, ${formatCount(m.decisions.deny)} deny). Shares count admitted connections; refused ones carried no data.</p>
<figure>${coverageChart(m)}<figcaption>Connections per ${m.timeline.bucketMs ? formatLifetime(m.timeline.bucketMs) : 'bucket'}: mutual TLS (solid), plaintext (hatched), refused (dotted); dashed line: mTLS share of admitted connections.</figcaption></figure>
<h3>Plaintext flows</h3>
${table(
  [{ label: 'Client' }, { label: 'Pod port' }, { label: 'Connections', num: true }, { label: 'Admitted', num: true }, { label: 'Refused', num: true }, { label: 'Bytes', num: true }, { label: 'First seen' }, { label: 'Last seen' }],
  m.plaintextFlows.map((f) => [mono(f.clientIp), mono(`${f.pod}:${f.port}`), formatCount(f.connections), formatCount(f.admitted), formatCount(f.denied), formatBytes(f.bytes), formatTime(f.firstSeen), formatTime(f.lastSeen)]),
  'No plaintext flow.',
)}`,
  );
}

export function policySection(r: ComplianceReport): Html {
  const p = r.policy;
  if (!p.resourcesLoaded && p.ports.length === 0) return section('policy-coverage', 'Policy coverage', html`<p class="note">No policy resources were read.</p>`);
  const c = p.counts;
  const f = p.findings;
  return section(
    'policy-coverage',
    'Policy coverage',
    html`<div class="figures">
${figure('Pod ports', formatCount(c.ports))}${figure('Enforced by a Server', formatCount(c.enforced))}${figure('In audit', formatCount(c.audit))}${figure('On a default policy', formatCount(c.default))}${c.unknown ? figure('Unknown', formatCount(c.unknown), 'pods the resources do not describe') : ''}
</div>
${p.defaultPolicy ? html`<p>Cluster default policy assumed: ${mono(p.defaultPolicy)}.</p>` : ''}
${table(
  [{ label: 'Pod port' }, { label: 'Status' }, { label: 'Server' }, { label: 'Default policy' }, { label: 'Admits unauthenticated' }, { label: 'Declared' }, { label: 'Seen' }],
  p.ports.map((x) => [mono(`${x.pod}:${x.port}`), html`${x.status}${x.name ? html` <span class="note">(${x.name})</span>` : ''}`, x.server ?? '', x.defaultPolicy ?? '', x.admitsUnauthenticated ? 'yes' : 'no', x.declared ? 'yes' : 'no', x.seenInDecisions ? 'yes' : 'no']),
  'No pod port known.',
)}
${f ? html`<h3>Audit findings</h3><p>${f.high} high, ${f.medium} medium, ${f.low} low, ${f.info} info.</p>${table([{ label: 'Severity' }, { label: 'Code' }, { label: 'Finding' }], f.items.map((i) => [i.severity, mono(i.code), i.message]), 'No finding.')}` : ''}`,
  );
}

export function denialsSection(r: ComplianceReport): Html {
  const d = r.denials;
  if (d.total === 0) return section('denials', 'Denials', html`<p class="note">No connection was refused in this window.</p>`);
  return section(
    'denials',
    'Denials',
    html`<p>${formatCount(d.total)} connection(s) refused.</p>
<h3>By server</h3>
${table(
  [{ label: 'Server' }, { label: 'Refused', num: true }, { label: 'Clients', num: true }, { label: 'Example reason' }, { label: 'Decision id' }],
  d.byServer.map((g) => [g.target, formatCount(g.count), formatCount(g.clients), g.example.reason, mono(g.example.decisionId)]),
  'None.',
)}
<h3>By client</h3>
${table(
  [{ label: 'Client' }, { label: 'Refused', num: true }, { label: 'Targets', num: true }, { label: 'Example reason' }, { label: 'Decision id' }],
  d.byClient.map((g) => [mono(g.client), formatCount(g.count), formatCount(g.targets), g.example.reason, mono(g.example.decisionId)]),
  'None.',
)}`,
  );
}
