/**
 * Trust rotation: a new issuer (`rotateIssuer`), and an anchor rotation as a persisted state
 * machine (`runStep`, `runRotation`, `abortRotation`), confirmed by every proxy of an explicit
 * fleet. Pure PKI and storage: the transports (how a proxy is asked) come in through `FleetProbe`.
 */
export { abortRotation, planAbort } from './abort.ts';
export { AnchorKeyring } from './anchor-keyring.ts';
export { certificateFacts, commonNameOf, loadCaSigner, type CaSigner } from './ca-signer.ts';
export {
  ABORT_CHECKPOINTS,
  DEFAULT_POLL_INTERVAL_MS,
  DEFAULT_RENEW_EVERY_MS,
  DEFAULT_ROTATION_TIMEOUT_MS,
  ROTATION_CHECKPOINTS,
  type RotationCheckpoint,
  type RotationContext,
  type RotationHooks,
  type RotationOptions,
} from './context.ts';
export { EmptyFleetError, FleetNotConvergedError, RotationInProgressError, RotationOrderError, type Straggler } from './errors.ts';
export { FileFleet, parseFleetFile } from './fleet-file.ts';
export { fleetMembers, waitForFleet, type FleetCondition, type FleetRound, type FleetWaitDeps, type FleetWaitOptions } from './fleet-wait.ts';
export type { Fleet, FleetMember, FleetProbe, ProxyTrustReport } from './fleet.ts';
export { anchorFingerprint, bundleFingerprintOfPem, certificateFingerprint, isFingerprint, shortFingerprint } from './fingerprints.ts';
export { rotateIssuer, type IssuerRotationOptions, type IssuerRotationResult } from './issuer-rotation.ts';
export { describePhases } from './phases.ts';
export { planRotation, runRotation, runStep, nextStep } from './runner.ts';
export { ROTATION_STEPS, RotationStateFile, type RotationState, type RotationStep } from './state.ts';
export { realSleep } from './context.ts';
export { formatRotationStatus, readRotationStatus, type RotationStatus } from './status.ts';
export { ROTATION_LOCK, withRotationLock } from './lock.ts';
export { certifiedUnder, holdsBundle, issuedBy } from './steps/conditions.ts';
