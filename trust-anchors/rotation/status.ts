import { formatDuration } from '../../common/duration.ts';
import { formatPhaseDuration } from './phases.ts';
import { nextStep } from './runner.ts';
import { ROTATION_STEPS, type CertificateFacts, type RotationState, type RotationStateFile } from './state.ts';
import { shortFingerprint } from './fingerprints.ts';

/** `identity rotate-anchor status -o json`: where a rotation stands. No certificates, no keys. */
export interface RotationStatus {
  inProgress: boolean;
  rotation: RotationSummary | null;
  /** The last rotation that finished, when there is none in progress. */
  last: RotationSummary | null;
}

export interface RotationSummary {
  id: string;
  store: string;
  startedAt: string;
  updatedAt: string;
  finishedAt: string | null;
  outcome: 'completed' | 'aborted' | null;
  completed: string | null;
  running: { step: string; startedAt: string } | null;
  aborting: boolean;
  next: string | null;
  steps: { step: string; status: 'done' | 'running' | 'pending'; durationMs: number | null }[];
  oldAnchor: CertificateFacts;
  newAnchor: CertificateFacts | null;
  bundles: { old: string; transition: string | null; final: string | null };
  previousIssuer: CertificateFacts | null;
  newIssuer: CertificateFacts | null;
  phases: RotationState['phases'];
}

export async function readRotationStatus(file: RotationStateFile): Promise<RotationStatus> {
  const state = await file.read();
  if (state) return { inProgress: true, rotation: summarize(state), last: null };
  const last = await file.readLast();
  return { inProgress: false, rotation: null, last: last ? summarize(last) : null };
}

function summarize(state: RotationState): RotationSummary {
  const finished = state.completed ? ROTATION_STEPS.indexOf(state.completed) : -1;
  return {
    id: state.id,
    store: state.store,
    startedAt: state.startedAt,
    updatedAt: state.updatedAt,
    finishedAt: state.finishedAt ?? null,
    outcome: state.outcome ?? null,
    completed: state.completed,
    running: state.running,
    aborting: state.aborting !== null,
    next: state.outcome || state.aborting ? null : (nextStep(state) ?? null),
    steps: ROTATION_STEPS.map((step, i) => ({
      step,
      status: i <= finished ? 'done' : state.running?.step === step ? 'running' : 'pending',
      durationMs: state.phases.find((p) => p.step === step)?.durationMs ?? null,
    })),
    oldAnchor: state.oldAnchor,
    newAnchor: state.newAnchor,
    bundles: { old: state.oldBundle.fingerprint, transition: state.transitionBundleFingerprint, final: state.finalBundleFingerprint },
    previousIssuer: state.previousIssuer,
    newIssuer: state.newIssuer,
    phases: state.phases,
  };
}

const MARK = { done: '√', running: '…', pending: '-' } as const;

/** The text form of `status`. */
export function formatRotationStatus(status: RotationStatus, now: Date): string {
  const lines: string[] = [];
  const r = status.rotation ?? status.last;
  if (!status.inProgress) lines.push('no anchor rotation in progress');
  if (!r) return `${lines.join('\n')}\n`;
  const ago = (at: string) => `${at} (${formatDuration(now.getTime() - Date.parse(at))} ago)`;
  const anchor = (a: CertificateFacts) => `${a.subject}  SHA-256 ${shortFingerprint(a.fingerprint)}  expires ${a.notAfter}`;
  lines.push(
    status.inProgress ? `anchor rotation ${r.id} in progress${r.aborting ? ' (aborting)' : ''}` : `last rotation ${r.id}: ${r.outcome} at ${r.finishedAt}`,
    `  store        ${r.store}`,
    `  started      ${ago(r.startedAt)}`,
    `  old anchor   ${anchor(r.oldAnchor)}`,
    `  new anchor   ${r.newAnchor ? anchor(r.newAnchor) : '(not created yet)'}`,
    '  steps',
  );
  for (const s of r.steps) {
    const detail = s.durationMs !== null ? formatPhaseDuration(s.durationMs) : s.status === 'running' ? `begun ${r.running!.startedAt}, not finished` : '';
    lines.push(`    ${MARK[s.status]} ${s.step.padEnd(13)} ${detail}`.trimEnd());
  }
  if (r.aborting) lines.push(`    … abort        begun ${r.running?.startedAt ?? ''}`.trimEnd());
  if (status.inProgress) {
    lines.push(
      r.aborting
        ? 'next: identity rotate-anchor abort (to finish going back)'
        : `next: identity rotate-anchor ${r.next} (or "identity rotate-anchor" to run the rest)`,
    );
  }
  return `${lines.join('\n')}\n`;
}
