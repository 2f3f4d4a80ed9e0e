import type { Clock } from '../../common/clock.ts';
import { formatDuration } from '../../common/duration.ts';
import { EmptyFleetError, FleetNotConvergedError, type Straggler } from './errors.ts';
import type { Fleet, FleetMember, FleetProbe, ProxyTrustReport } from './fleet.ts';

/** What every member must reach. */
export interface FleetCondition {
  /** For messages, after "n of N proxies": `hold bundle 3f2a… (old + new anchors)`. */
  goal: string;
  /** null once the member has reached the goal; otherwise what it holds instead (`holds bundle 9d8e…`). */
  unmet(report: ProxyTrustReport): string | null;
}

export interface FleetWaitDeps {
  fleet: Fleet;
  probe: FleetProbe;
  clock: Clock;
  sleep(ms: number): Promise<void>;
  progress(line: string): void;
}

export interface FleetWaitOptions {
  /** The step waiting, prefixing every line: `wait-bundle`. */
  label: string;
  timeoutMs: number;
  pollIntervalMs: number;
  /** When set, a member that answers but has not reached the goal is asked to renew, at most this often. */
  renewEveryMs?: number;
  allowEmptyFleet: boolean;
  /** Appended to the timeout message: how to resume or back out. */
  resumeHint: string;
}

export interface FleetRound {
  total: number;
  ready: string[];
  stragglers: Straggler[];
}

/** A progress line is repeated this often even when nothing changes, so that a wait never looks hung. */
const HEARTBEAT_MS = 15_000;

/**
 * Asks every member until all of them meet `condition`, showing n of N and the stragglers by
 * name whenever that changes. A member that cannot be asked is a straggler with the reason.
 * Never returns while one is missing: after `timeoutMs` it throws FleetNotConvergedError.
 */
export async function waitForFleet(deps: FleetWaitDeps, condition: FleetCondition, options: FleetWaitOptions): Promise<FleetRound> {
  const started = deps.clock.now().getTime();
  const deadline = started + options.timeoutMs;
  const renewals = new Map<string, RenewalRecord>();
  let lastLine = '';
  let lastLineAt = 0;
  for (;;) {
    const round = await askFleet(deps, condition, options, renewals);
    const now = deps.clock.now().getTime();
    const line = describeRound(options.label, condition, round);
    if (line !== lastLine || now - lastLineAt >= HEARTBEAT_MS) {
      deps.progress(line);
      lastLine = line;
      lastLineAt = now;
    }
    if (round.stragglers.length === 0) return round;
    if (now >= deadline) {
      throw new FleetNotConvergedError(
        `${options.label}: after ${formatDuration(now - started)}, ${round.ready.length} of ${round.total} proxies ${condition.goal}; ` +
          `stragglers: ${formatStragglers(round.stragglers)}. ${options.resumeHint}`,
        round.stragglers,
      );
    }
    await deps.sleep(Math.min(options.pollIntervalMs, deadline - now));
  }
}

async function askFleet(deps: FleetWaitDeps, condition: FleetCondition, options: FleetWaitOptions, renewals: Map<string, RenewalRecord>): Promise<FleetRound> {
  const members = await fleetMembers(deps.fleet, options.label, options.allowEmptyFleet);
  const results = await Promise.all(members.map((member) => askMember(deps, condition, options, renewals, member)));
  return {
    total: members.length,
    ready: results.filter((r) => r.reason === null).map((r) => r.name),
    stragglers: results.filter((r): r is Straggler => r.reason !== null),
  };
}

interface RenewalRecord {
  lastAt: number;
  count: number;
  /** The last request's failure, if it failed. */
  error: string | null;
  /** The certificate the member held when it was last asked (serial, else notAfter). */
  askedHolding: string | null;
}

/** Names the certificate a report describes, to tell a renewal from none. */
const certificateOf = (report: ProxyTrustReport): string | null => report.serial ?? report.notAfter;

async function askMember(
  deps: FleetWaitDeps,
  condition: FleetCondition,
  options: FleetWaitOptions,
  renewals: Map<string, RenewalRecord>,
  member: FleetMember,
): Promise<{ name: string; reason: string | null }> {
  if (member.unavailable !== undefined) return { name: member.name, reason: member.unavailable };
  let report: ProxyTrustReport;
  try {
    report = await deps.probe.readTrust(member);
  } catch (err) {
    return { name: member.name, reason: (err as Error).message };
  }
  const unmet = condition.unmet(report);
  if (unmet === null || options.renewEveryMs === undefined) return { name: member.name, reason: unmet };
  const now = deps.clock.now().getTime();
  const record = renewals.get(member.name) ?? { lastAt: -Infinity, count: 0, error: null, askedHolding: null };
  // A member that renewed since it was asked and still misses the goal got its certificate before
  // the identity service had loaded the new issuer: asking again at once, rather than after
  // renewEveryMs, saves a whole interval. Once per renewal seen, so never a flood.
  const renewedInVain = record.count > 0 && record.error === null && certificateOf(report) !== record.askedHolding;
  if (renewedInVain || now - record.lastAt >= options.renewEveryMs) {
    record.lastAt = now;
    record.askedHolding = certificateOf(report);
    record.count++;
    try {
      await deps.probe.requestRenewal(member);
      record.error = null;
    } catch (err) {
      record.error = (err as Error).message;
    }
    renewals.set(member.name, record);
  }
  const renewal = record.error ? `renew request failed: ${record.error}` : `asked to renew ${record.count === 1 ? 'once' : `${record.count} times`}`;
  return { name: member.name, reason: `${unmet}; ${renewal}` };
}

/** The members, refusing an empty fleet unless allowed: with no proxy, nothing confirms anything. */
export async function fleetMembers(fleet: Fleet, label: string, allowEmpty: boolean): Promise<FleetMember[]> {
  const members = await fleet.members();
  if (members.length === 0 && !allowEmpty) {
    throw new EmptyFleetError(
      `${label}: the fleet (${fleet.description}) lists no proxies, so nothing could confirm the change; ` +
        (fleet.emptyHint ?? 'list the proxies there, or pass --allow-empty-fleet if there really are none'),
    );
  }
  return members;
}

export function describeRound(label: string, condition: FleetCondition, round: FleetRound): string {
  const head = `${label}: ${round.ready.length} of ${round.total} proxies ${condition.goal}`;
  return round.stragglers.length === 0 ? head : `${head}; waiting for ${formatStragglers(round.stragglers)}`;
}

export const formatStragglers = (stragglers: Straggler[]): string => stragglers.map((s) => `${s.name}: ${s.reason}`).join(', ');
