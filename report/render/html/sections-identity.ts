/** The HTML sections about identities: inventory, ledger, trust chain, rotation, sources. */
import { formatCount, formatDaysLeft, formatLifetime, formatTime, shortFingerprint } from '../../format.ts';
import type { ComplianceReport, RotationEntry } from '../../model.ts';
import { html, type Html } from './escape.ts';
import { expiryChart, expiryRows } from './expiry-chart.ts';
import { figure, mono, section, table } from './parts.ts';

export function inventorySection(r: ComplianceReport): Html {
  const inv = r.inventory;
  const life = inv.lifetimeMs;
  return section(
    'identity-inventory',
    'Identity inventory',
    html`<div class="figures">${figure('Certificates issued', formatCount(inv.certificates))}${figure('Identities', formatCount(inv.identities.length))}${figure('Lifetime (min / median / max)', life ? `${formatLifetime(life.min)} / ${formatLifetime(life.median)} / ${formatLifetime(life.max)}` : 'n/a')}</div>
${table(
  [{ label: 'Identity' }, { label: 'Certificates', num: true }, { label: 'First issued' }, { label: 'Last issued' }, { label: 'Latest expiry' }, { label: 'Current' }],
  inv.identities.map((i) => [mono(i.identity), formatCount(i.certificates), formatTime(i.firstIssued), formatTime(i.lastIssued), formatTime(i.latestNotAfter), i.current ? 'yes' : 'no']),
  'No certificate issued in this window.',
)}
<h3>Key types</h3>
${table(
  [{ label: 'Role' }, { label: 'Key type' }, { label: 'Certificates', num: true }, { label: 'Source' }],
  inv.keyTypes.map((k) => [k.role, k.keyType, formatCount(k.certificates), k.source === 'certificate' ? 'read from the certificate' : 'issuance profile: the authority signs ECDSA P-256 keys only; the ledger keeps a hash of each key']),
  'No certificate.',
)}`,
  );
}

export function ledgerSection(r: ComplianceReport): Html {
  const l = r.ledger;
  const verdict = l.verified === null ? 'absent' : l.verified ? 'verified' : 'NOT verified';
  return section(
    'ledger-integrity',
    'Ledger integrity',
    html`<p>Ledger ${mono(l.path)}: <strong>${verdict}</strong>${l.present ? html` — ${formatCount(l.records)} records, last seq ${l.lastSeq}, ${formatCount(l.errors.length)} error(s), ${formatCount(l.warnings.length)} warning(s).` : '.'}</p>
${l.readError ? html`<p class="warnings">${l.readError}</p>` : ''}
${l.errors.length + l.warnings.length > 0 ? table([{ label: 'Severity' }, { label: 'Line', num: true }, { label: 'Kind' }, { label: 'Problem' }], [...l.errors, ...l.warnings].map((p) => [p.severity, p.line, p.kind, p.message]), '') : ''}`,
  );
}

export function trustSection(r: ComplianceReport): Html {
  const t = r.trust;
  const rows = [...t.anchors.map((c) => ({ role: 'anchor', c, chain: '' })), ...(t.issuer ? [{ role: 'issuer', c: t.issuer, chain: t.issuer.chainsTo ? `signed by ${shortFingerprint(t.issuer.chainsTo)}` : 'NOT signed by a bundle anchor' }] : [])];
  const { hiddenLeaves } = expiryRows(r);
  return section(
    'trust-chain',
    'Trust chain',
    html`${t.warnings.length ? html`<div class="warnings"><strong>Warnings</strong><ul>${t.warnings.map((w) => html`<li><strong>${w.level}</strong>: ${w.message}</li>`)}</ul></div>` : html`<p>No anchor or issuer expires within ${t.thresholds.warningDays} days.</p>`}
${[t.bundle.error && html`<p class="warnings">Bundle: ${t.bundle.error}</p>`, t.issuerError && html`<p class="warnings">Issuer: ${t.issuerError}</p>`]}
${table(
  [{ label: 'Role' }, { label: 'Subject' }, { label: 'SHA-256' }, { label: 'Key' }, { label: 'Not after' }, { label: 'Days left', num: true }, { label: 'State' }, { label: 'Chain' }],
  rows.map(({ role, c, chain }) => [role, c.subject, mono(shortFingerprint(c.fingerprint)), c.keyType, formatTime(c.notAfter), formatDaysLeft(c.daysLeft), html`<span class="state-${c.state}">${c.state}</span>`, chain]),
  'No anchor or issuer found.',
)}
<p class="note">Bundle ${mono(t.bundle.source)}${t.bundle.fingerprint ? html`, fingerprint ${mono(shortFingerprint(t.bundle.fingerprint))}` : ''}.</p>
<figure>${expiryChart(r)}<figcaption>Time left to each anchor, the issuer and the current certificate of each identity${hiddenLeaves ? ` (${hiddenLeaves} more identities not drawn)` : ''}; marks at now, 30 and 60 days.</figcaption></figure>`,
  );
}

function rotationEntry(label: string, e: RotationEntry): Html {
  return html`<h3>${label}${e.id ? html` ${mono(e.id)}` : ''}</h3>
<p>Started ${formatTime(e.startedAt)}${e.finishedAt ? `, finished ${formatTime(e.finishedAt)}` : ''}${e.outcome ? `: ${e.outcome}` : e.running ? `; running ${e.running}` : e.completed ? `; last step done: ${e.completed}` : ''}${e.aborting ? ' (aborting)' : ''}.</p>
${table(
  [{ label: 'Certificate' }, { label: 'Subject' }, { label: 'SHA-256' }, { label: 'Not after' }],
  (
    [
      ['old anchor', e.oldAnchor],
      ['new anchor', e.newAnchor],
      ['previous issuer', e.previousIssuer],
      ['new issuer', e.newIssuer],
    ] as const
  ).flatMap(([what, ref]) => (ref ? [[what, ref.subject ?? 'unknown', mono(shortFingerprint(ref.fingerprint)), formatTime(ref.notAfter)]] : [])),
  'No certificate recorded.',
)}
${e.phases.length ? table([{ label: 'Step' }, { label: 'Started' }, { label: 'Finished' }, { label: 'Took', num: true }], e.phases.map((p) => [p.step, formatTime(p.startedAt), formatTime(p.finishedAt), p.durationMs === null ? '?' : formatLifetime(p.durationMs)]), '') : ''}`;
}

export function rotationSection(r: ComplianceReport): Html {
  const h = r.rotation;
  return section(
    'rotation-history',
    'Rotation history',
    html`${h.inProgress ? rotationEntry('Anchor rotation in progress', h.inProgress) : ''}${h.last ? rotationEntry('Last anchor rotation', h.last) : ''}
${h.recorded ? '' : html`<p>No rotation recorded.</p>`}
${h.problems.length ? html`<ul>${h.problems.map((p) => html`<li>Unreadable: ${p}</li>`)}</ul>` : ''}
${h.retiredAnchors.length ? html`<h3>Retired anchors</h3>${table([{ label: 'Directory' }, { label: 'Subject' }, { label: 'SHA-256' }, { label: 'Not after' }], h.retiredAnchors.map((a) => [mono(a.directory), a.subject ?? 'unreadable', mono(shortFingerprint(a.fingerprint)), formatTime(a.notAfter)]), '')}` : ''}
<h3>Issuers seen in the ledger</h3>
${table(
  [{ label: 'Issuer SHA-256' }, { label: 'Certificates', num: true }, { label: 'First' }, { label: 'Last' }, { label: 'In service' }],
  h.issuers.map((i) => [mono(shortFingerprint(i.fingerprint)), formatCount(i.certificates), formatTime(i.firstIssued), formatTime(i.lastIssued), i.current ? 'yes' : 'no']),
  'No certificate in this window.',
)}
${h.issuerChanges.length ? html`<p>Issuer changes:</p><ul>${h.issuerChanges.map((c) => html`<li>${formatTime(c.time)} (seq ${c.seq}): ${mono(shortFingerprint(c.from))} → ${mono(shortFingerprint(c.to))}</li>`)}</ul>` : html`<p>No issuer change in this window.</p>`}`,
  );
}

export function sourcesSection(r: ComplianceReport): Html {
  const s = r.sources;
  const d = s.decisionLogs;
  return section(
    'sources',
    'Sources',
    html`<ul>
<li>Decision logs: ${d.paths.length ? d.paths.map((p, i) => html`${i ? ', ' : ''}${mono(p)}`) : 'none'}; ${formatCount(d.files.length)} file(s), ${formatCount(d.records)} record(s), ${formatCount(d.inWindow)} in the window, ${formatCount(d.badLines)} bad line(s).</li>
<li>Ledger: ${mono(s.ledger)}</li>
<li>Policy resources: ${s.resources.paths.length ? s.resources.paths.map((p, i) => html`${i ? ', ' : ''}${mono(p)}`) : 'none'} (${formatCount(s.resources.files.length)} file(s)).</li>
</ul>
${d.bad.length ? table([{ label: 'Bad line' }, { label: 'Why' }], d.bad.map((b) => [mono(`${b.file}:${b.line}`), b.reason]), '') : ''}`,
  );
}
