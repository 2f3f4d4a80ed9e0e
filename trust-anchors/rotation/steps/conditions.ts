import type { FleetCondition } from '../fleet-wait.ts';
import { shortFingerprint } from '../fingerprints.ts';

/** The proxy's bundle fingerprint is `fingerprint` exactly. */
export function holdsBundle(fingerprint: string, what: string, known: Record<string, string> = {}): FleetCondition {
  return {
    goal: `hold bundle ${shortFingerprint(fingerprint)} (${what})`,
    unmet: (report) =>
      report.bundleFingerprint === fingerprint
        ? null
        : `holds bundle ${shortFingerprint(report.bundleFingerprint)}${known[report.bundleFingerprint] ? ` (${known[report.bundleFingerprint]})` : ''}`,
  };
}

/** The proxy's certificate chains to one of `anchors`. */
export function certifiedUnder(anchors: string[], what: string): FleetCondition {
  const wanted = new Set(anchors);
  return {
    goal: `hold a certificate from ${what}`,
    unmet: (report) => {
      if (report.certificateAnchors.some((a) => wanted.has(a))) return null;
      if (report.notAfter === null) return 'holds no certificate yet';
      const held = report.certificateAnchors.map(shortFingerprint).join(', ');
      return held ? `certificate chains to anchor ${held}` : 'certificate chains to no anchor of its bundle';
    },
  };
}

/** The proxy's certificate was issued by the issuer with this fingerprint (`rotate-issuer --renew-now`). */
export function issuedBy(issuerFingerprint: string): FleetCondition {
  return {
    goal: `hold a certificate from the new issuer ${shortFingerprint(issuerFingerprint)}`,
    unmet: (report) => {
      if (report.issuerFingerprint === issuerFingerprint) return null;
      return report.issuerFingerprint === null ? 'holds no certificate yet' : `certificate from issuer ${shortFingerprint(report.issuerFingerprint)}`;
    },
  };
}
