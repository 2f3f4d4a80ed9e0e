/** The system's own controls: the ledger an auditor can verify, and a trust chain far from expiry. */
import { formatCount, formatDaysLeft } from '../format.ts';
import { fail, notApplicable, pass, type ControlDefinition } from './control.ts';
import { trustProblems } from './evidence.ts';

const framework = 'meshidentity' as const;

export const ledgerIntegrity: ControlDefinition = {
  id: 'ledger-integrity',
  framework,
  reference: 'Issuance ledger',
  title: 'The issuance ledger is intact (hash chain and checkpoint verified)',
  evaluate({ ledger }) {
    if (!ledger.present) return notApplicable(`No ledger at ${ledger.path}: no certificate was issued from this home.`);
    if (ledger.verified !== true) {
      const problems = ledger.errors.map((p) => `line ${p.line}: ${p.kind}: ${p.message}`);
      if (ledger.readError) problems.push(ledger.readError);
      return fail([`the ledger has been altered or could not be read (${formatCount(ledger.errors.length)} error(s))`, ...problems.slice(0, 3)]);
    }
    const warnings = ledger.warnings.length ? `; ${formatCount(ledger.warnings.length)} warning(s) (${ledger.warnings.map((w) => w.kind).join(', ')})` : '';
    return pass(`${formatCount(ledger.records)} records; hash chain and checkpoint verified up to seq ${ledger.lastSeq}${warnings}.`);
  },
};

export const trustChainValidity: ControlDefinition = {
  id: 'trust-chain-validity',
  framework,
  reference: 'Trust chain',
  title: 'Anchors and issuer are valid for 30 days or more',
  evaluate({ trust }) {
    if (trust.anchors.length === 0 && trust.issuer === null && !trust.bundle.error && !trust.issuerError) return notApplicable('No trust anchor or issuer was found.');
    const soon = trust.warnings.filter((w) => w.level === 'critical').map((w) => w.message);
    const problems = [...trustProblems(trust), ...soon];
    if (problems.length > 0) return fail(problems);
    const planned = trust.warnings.filter((w) => w.level === 'warning').map((w) => w.message);
    const anchors = trust.anchors.map((a) => formatDaysLeft(a.daysLeft)).join(', ');
    return pass(
      `${formatCount(trust.anchors.length)} anchor(s) (${anchors} left) and the issuer (${formatDaysLeft(trust.issuer!.daysLeft)} left) are valid and chained` +
        (planned.length ? `; warning: ${planned.join('; ')}.` : '.'),
    );
  },
};
