import { IdentityError } from '../../common/errors.ts';

/** A second rotation (or an issuer rotation) while an anchor rotation is under way. */
export class RotationInProgressError extends IdentityError {
  readonly code = 'ERR_ROTATION_IN_PROGRESS' as const;
}

/** A step asked for out of order, a step that can no longer run (abort after retire), or no rotation to act on. */
export class RotationOrderError extends IdentityError {
  readonly code = 'ERR_ROTATION_ORDER' as const;
}

/** One proxy that has not reached the state awaited, and why (`web: unreachable: ECONNREFUSED`). */
export interface Straggler {
  name: string;
  reason: string;
}

/**
 * Proxies that did not reach the awaited state before the deadline. The rotation is paused where
 * it stands, with its state kept: re-running resumes it.
 */
export class FleetNotConvergedError extends IdentityError {
  readonly code = 'ERR_FLEET_NOT_CONVERGED' as const;
  readonly stragglers: Straggler[];
  constructor(message: string, stragglers: Straggler[]) {
    super(message);
    this.stragglers = stragglers;
  }
}

/** No proxies to wait for; a rotation that confirms nothing is only allowed on request. */
export class EmptyFleetError extends IdentityError {
  readonly code = 'ERR_FLEET_EMPTY' as const;
}
