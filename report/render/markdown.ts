/**
 * `-o md`: the report as one Markdown document (GitHub-flavoured tables), sections in the order
 * an auditor reads: controls first, then the evidence they rest on.
 */
import { formatBytes, formatCount, formatDaysLeft, formatLifetime, formatPercent, formatTime, shortFingerprint } from '../format.ts';
import type { ComplianceReport } from '../model.ts';
import { code, md, STATUS_WORD, table } from './markdown-text.ts';
import { windowText } from './window-text.ts';

export function renderMarkdown(r: ComplianceReport): string {
  return [header(r), controls(r), mtls(r), inventory(r), ledger(r), trust(r), rotation(r), policy(r), denials(r), sources(r)].join('\n');
}

function header(r: ComplianceReport): string {
  const s = r.summary;
  return (
    `# Compliance report\n\n` +
    `Generated ${formatTime(r.generatedAt)} for the home ${code(r.sources.home)}; ${md(windowText(r.window))}.\n\n` +
    `**Controls:** ${s.pass} pass, ${s.fail} fail, ${s.notApplicable} not applicable. ` +
    `**mTLS:** ${formatPercent(r.mtls.connectionShare)} of admitted connections, ${formatPercent(r.mtls.byteShare)} of bytes. ` +
    `**Certificates issued:** ${formatCount(r.inventory.certificates)}. **Ledger:** ${r.ledger.verified === null ? 'absent' : r.ledger.verified ? 'verified' : 'NOT verified'}.\n`
  );
}

function controls(r: ComplianceReport): string {
  return `## Controls\n\n${table(
    ['Status', 'Framework', 'Reference', 'Control', 'Evidence'],
    r.controls.map((c) => [`**${STATUS_WORD[c.status]}**`, md(c.framework), md(c.reference), md(c.title), md(c.evidence)]),
  )}`;
}

function mtls(r: ComplianceReport): string {
  const m = r.mtls;
  const a = m.admitted;
  const flows = table(
    ['Client', 'Pod port', 'Connections', 'Admitted', 'Refused', 'Bytes', 'First seen', 'Last seen'],
    m.plaintextFlows.map((f) => [md(f.clientIp), md(`${f.pod}:${f.port}`), formatCount(f.connections), formatCount(f.admitted), formatCount(f.denied), formatBytes(f.bytes), formatTime(f.firstSeen), formatTime(f.lastSeen)]),
    ['l', 'l', 'r', 'r', 'r', 'r', 'l', 'l'],
  );
  const timeline = table(
    ['From', 'mTLS', 'Plaintext', 'Refused', 'mTLS share'],
    m.timeline.buckets.filter((b) => b.mtlsConnections + b.plaintextConnections + b.deniedConnections > 0).map((b) => [formatTime(b.start), formatCount(b.mtlsConnections), formatCount(b.plaintextConnections), formatCount(b.deniedConnections), formatPercent(b.connectionShare)]),
    ['l', 'r', 'r', 'r', 'r'],
  );
  return (
    `## mTLS coverage\n\n` +
    `- Decisions: ${formatCount(m.decisions.total)} (${formatCount(m.decisions.allow)} allow, ${formatCount(m.decisions.audit)} audit, ${formatCount(m.decisions.deny)} deny)\n` +
    `- Admitted connections: ${formatCount(a.connections)}, of which ${formatCount(a.mtlsConnections)} mutual TLS and ${formatCount(a.plaintextConnections)} plaintext: **${formatPercent(m.connectionShare)}** mutually authenticated\n` +
    `- Bytes: ${formatBytes(a.bytes)}, of which ${formatBytes(a.mtlsBytes)} mutual TLS and ${formatBytes(a.plaintextBytes)} plaintext: **${formatPercent(m.byteShare)}**\n` +
    `- Refused: ${formatCount(m.denied.connections)} (${formatCount(m.denied.mtls)} over mutual TLS, ${formatCount(m.denied.plaintext)} plaintext)\n\n` +
    `### Plaintext flows\n\n${flows || 'No plaintext flow.\n'}\n` +
    `### Over time${m.timeline.bucketMs ? ` (buckets of ${formatLifetime(m.timeline.bucketMs)}; empty ones left out)` : ''}\n\n${timeline || 'No connection recorded in this window.\n'}`
  );
}

function inventory(r: ComplianceReport): string {
  const inv = r.inventory;
  const life = inv.lifetimeMs;
  return (
    `## Identity inventory\n\n` +
    `${formatCount(inv.certificates)} certificate(s) issued to ${formatCount(inv.identities.length)} identit${inv.identities.length === 1 ? 'y' : 'ies'}` +
    (life ? `; lifetimes min ${formatLifetime(life.min)}, median ${formatLifetime(life.median)}, max ${formatLifetime(life.max)}.\n\n` : '.\n\n') +
    table(
      ['Identity', 'Certificates', 'First issued', 'Last issued', 'Latest expiry', 'Current'],
      inv.identities.map((i) => [md(i.identity), formatCount(i.certificates), formatTime(i.firstIssued), formatTime(i.lastIssued), formatTime(i.latestNotAfter), i.current ? 'yes' : 'no']),
      ['l', 'r', 'l', 'l', 'l', 'l'],
    ) +
    `\n### Key types\n\n` +
    (table(
      ['Role', 'Key type', 'Certificates', 'Source'],
      inv.keyTypes.map((k) => [k.role, md(k.keyType), formatCount(k.certificates), k.source === 'certificate' ? 'read from the certificate' : 'issuance profile (the ledger keeps a hash of the key)']),
      ['l', 'l', 'r', 'l'],
    ) || 'No certificate.\n')
  );
}

function ledger(r: ComplianceReport): string {
  const l = r.ledger;
  const state = l.verified === null ? 'absent' : l.verified ? `verified: ${formatCount(l.records)} records, hash chain and checkpoint intact up to seq ${l.lastSeq}` : `**NOT verified**: ${formatCount(l.errors.length)} error(s)`;
  const problems = [...l.errors, ...l.warnings].map((p) => `- ${p.severity} at line ${p.line}: ${md(p.kind)}: ${md(p.message)}`);
  if (l.readError) problems.push(`- read error: ${md(l.readError)}`);
  return `## Ledger integrity\n\nLedger ${code(l.path)}: ${state}.\n${problems.length ? `\n${problems.join('\n')}\n` : ''}`;
}

function trust(r: ComplianceReport): string {
  const t = r.trust;
  const rows = [
    ...t.anchors.map((a) => ({ role: 'anchor', c: a, chain: '' })),
    ...(t.issuer ? [{ role: 'issuer', c: t.issuer, chain: t.issuer.chainsTo ? `signed by ${code(shortFingerprint(t.issuer.chainsTo))}` : '**not signed by a bundle anchor**' }] : []),
  ];
  const errors = [t.bundle.error && `- bundle: ${md(t.bundle.error)}`, t.issuerError && `- issuer: ${md(t.issuerError)}`].filter(Boolean);
  return (
    `## Trust chain\n\n` +
    table(
      ['Role', 'Subject', 'SHA-256', 'Key', 'Not after', 'Days left', 'State', 'Chain'],
      rows.map(({ role, c, chain }) => [role, md(c.subject), code(shortFingerprint(c.fingerprint)), md(c.keyType), formatTime(c.notAfter), formatDaysLeft(c.daysLeft), c.state, chain]),
      ['l', 'l', 'l', 'l', 'l', 'r', 'l', 'l'],
    ) +
    (errors.length ? `\n${errors.join('\n')}\n` : '') +
    `\n${t.warnings.length ? t.warnings.map((w) => `- **${w.level}**: ${md(w.message)}`).join('\n') : `No anchor or issuer expires within ${t.thresholds.warningDays} days.`}\n`
  );
}

function rotation(r: ComplianceReport): string {
  const h = r.rotation;
  const entry = (label: string, e: NonNullable<typeof h.last>) =>
    `- ${label} ${md(e.id ?? '(no id)')}: started ${formatTime(e.startedAt)}` +
    (e.finishedAt ? `, finished ${formatTime(e.finishedAt)}` : '') +
    (e.outcome ? `, ${md(e.outcome)}` : e.running ? `, running ${md(e.running)}` : e.completed ? `, last step done ${md(e.completed)}` : '') +
    (e.oldAnchor ? `; old anchor ${md(e.oldAnchor.subject)} ${code(shortFingerprint(e.oldAnchor.fingerprint))}` : '') +
    (e.newAnchor ? `; new anchor ${md(e.newAnchor.subject)} ${code(shortFingerprint(e.newAnchor.fingerprint))}` : '') +
    (e.phases.length ? `; phases: ${e.phases.map((p) => `${md(p.step)} ${p.durationMs === null ? '?' : formatLifetime(p.durationMs)}`).join(', ')}` : '');
  const lines = [
    ...(h.inProgress ? [entry('Anchor rotation in progress', h.inProgress)] : []),
    ...(h.last ? [entry('Last anchor rotation', h.last)] : []),
    ...(h.recorded ? [] : ['- No rotation recorded.']),
    ...h.problems.map((p) => `- Unreadable: ${md(p)}`),
    ...h.retiredAnchors.map((a) => `- Retired anchor ${code(a.directory)}: ${md(a.subject ?? 'unreadable')} ${code(shortFingerprint(a.fingerprint))}`),
  ];
  const issuers = table(
    ['Issuer SHA-256', 'Certificates', 'First', 'Last', 'In service'],
    h.issuers.map((i) => [code(shortFingerprint(i.fingerprint)), formatCount(i.certificates), formatTime(i.firstIssued), formatTime(i.lastIssued), i.current ? 'yes' : 'no']),
    ['l', 'r', 'l', 'l', 'l'],
  );
  const changes = h.issuerChanges.map((c) => `- ${formatTime(c.time)} (seq ${c.seq}): ${code(shortFingerprint(c.from))} → ${code(shortFingerprint(c.to))}`);
  return (
    `## Rotation history\n\n${lines.join('\n')}\n\n### Issuers seen in the ledger\n\n${issuers || 'No certificate in this window.\n'}` +
    `\n${changes.length ? `Issuer changes:\n\n${changes.join('\n')}\n` : 'No issuer change in this window.\n'}`
  );
}

function policy(r: ComplianceReport): string {
  const p = r.policy;
  if (!p.resourcesLoaded && p.ports.length === 0) return `## Policy coverage\n\nNo policy resources were read.\n`;
  const c = p.counts;
  const f = p.findings;
  return (
    `## Policy coverage\n\n` +
    `${formatCount(c.ports)} pod port(s): ${c.enforced} enforced by a Server, ${c.audit} in audit, ${c.default} on a default policy, ${c.unknown} unknown` +
    (p.defaultPolicy ? ` (cluster default assumed: ${md(p.defaultPolicy)}).\n\n` : '.\n\n') +
    table(
      ['Pod port', 'Status', 'Server', 'Default policy', 'Admits unauthenticated', 'Declared', 'Seen'],
      p.ports.map((x) => [md(`${x.pod}:${x.port}${x.name ? ` (${x.name})` : ''}`), x.status, md(x.server ?? ''), md(x.defaultPolicy ?? ''), x.admitsUnauthenticated ? 'yes' : 'no', x.declared ? 'yes' : 'no', x.seenInDecisions ? 'yes' : 'no']),
    ) +
    (f ? `\nAudit findings: ${f.high} high, ${f.medium} medium, ${f.low} low, ${f.info} info.\n\n${f.items.map((i) => `- **${i.severity}** ${code(i.code)}: ${md(i.message)}`).join('\n')}\n` : '')
  );
}

function denials(r: ComplianceReport): string {
  const d = r.denials;
  if (d.total === 0) return `## Denials\n\nNo connection was refused in this window.\n`;
  return (
    `## Denials\n\n${formatCount(d.total)} connection(s) refused.\n\n### By server\n\n` +
    table(['Server', 'Refused', 'Clients', 'Example reason', 'Decision id'], d.byServer.map((g) => [md(g.target), formatCount(g.count), formatCount(g.clients), md(g.example.reason), code(g.example.decisionId)]), ['l', 'r', 'r', 'l', 'l']) +
    `\n### By client\n\n` +
    table(['Client', 'Refused', 'Targets', 'Example reason', 'Decision id'], d.byClient.map((g) => [md(g.client), formatCount(g.count), formatCount(g.targets), md(g.example.reason), code(g.example.decisionId)]), ['l', 'r', 'r', 'l', 'l'])
  );
}

function sources(r: ComplianceReport): string {
  const s = r.sources;
  const d = s.decisionLogs;
  const bad = d.bad.map((b) => `  - ${code(`${b.file}:${b.line}`)}: ${md(b.reason)}`);
  return (
    `## Sources\n\n` +
    `- Decision logs: ${d.paths.map(code).join(', ') || 'none'}; ${formatCount(d.files.length)} file(s), ${formatCount(d.records)} record(s), ${formatCount(d.inWindow)} in the window, ${formatCount(d.badLines)} bad line(s)\n` +
    (bad.length ? `${bad.join('\n')}\n` : '') +
    `- Ledger: ${code(s.ledger)}\n` +
    `- Policy resources: ${s.resources.paths.map(code).join(', ') || 'none'} (${formatCount(s.resources.files.length)} file(s))\n`
  );
}
