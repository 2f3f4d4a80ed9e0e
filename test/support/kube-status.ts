/**
 * `meta/v1 Status` objects as kube-apiserver writes them (staging/src/k8s.io/apimachinery/pkg/api/errors),
 * so that clients parse our failures exactly as they parse a real cluster's.
 */

export interface StatusDetails {
  name?: string;
  group?: string;
  kind?: string;
  uid?: string;
  causes?: { reason?: string; message?: string; field?: string }[];
  retryAfterSeconds?: number;
}

export interface Status {
  kind: 'Status';
  apiVersion: 'v1';
  metadata: Record<string, never>;
  status: 'Failure' | 'Success';
  message?: string;
  reason?: string;
  details?: StatusDetails;
  code: number;
}

/** A failure that the router turns into an HTTP response carrying its Status. */
export class StatusError extends Error {
  constructor(readonly status: Status) {
    super(status.message);
  }
}

export function failure(code: number, reason: string, message: string, details?: StatusDetails): StatusError {
  const status: Status = { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message, reason, code };
  if (details) status.details = details;
  return new StatusError(status);
}

/** A resource as the API names it: `secrets`, or `tokenreviews.authentication.k8s.io` with a group. */
export interface ResourceRef {
  resource: string;
  group?: string;
}

function qualified(ref: ResourceRef): string {
  return ref.group ? `${ref.resource}.${ref.group}` : ref.resource;
}

function details(ref: ResourceRef, name?: string): StatusDetails {
  const d: StatusDetails = {};
  if (name) d.name = name;
  if (ref.group) d.group = ref.group;
  d.kind = ref.resource;
  return d;
}

export const Statuses = {
  unauthorized: () => failure(401, 'Unauthorized', 'Unauthorized'),

  forbidden(ref: ResourceRef, verb: string, user: string, namespace: string | undefined, name?: string): StatusError {
    const subject = name ? `${qualified(ref)} "${name}"` : qualified(ref);
    const scope = namespace ? `in the namespace "${namespace}"` : 'at the cluster scope';
    const message = `${subject} is forbidden: User "${user}" cannot ${verb} resource "${ref.resource}" in API group "${ref.group ?? ''}" ${scope}`;
    return failure(403, 'Forbidden', message, details(ref, name));
  },

  notFound: (ref: ResourceRef, name: string) =>
    failure(404, 'NotFound', `${qualified(ref)} "${name}" not found`, details(ref, name)),

  /** What the server answers for a path it does not serve. */
  noRoute: () => failure(404, 'NotFound', 'the server could not find the requested resource', {}),

  alreadyExists: (ref: ResourceRef, name: string) =>
    failure(409, 'AlreadyExists', `${qualified(ref)} "${name}" already exists`, details(ref, name)),

  conflict: (ref: ResourceRef, name: string) =>
    failure(
      409,
      'Conflict',
      `Operation cannot be fulfilled on ${qualified(ref)} "${name}": the object has been modified; please apply your changes to the latest version and try again`,
      details(ref, name),
    ),

  badRequest: (message: string) => failure(400, 'BadRequest', message),

  invalid(kind: string, name: string, causes: { field: string; message: string }[]): StatusError {
    const text = causes.map((c) => `${c.field}: ${c.message}`).join(', ');
    return failure(422, 'Invalid', `${kind} "${name}" is invalid: ${text}`, {
      name,
      kind,
      causes: causes.map((c) => ({ reason: 'FieldValueInvalid', message: c.message, field: c.field })),
    });
  },

  methodNotAllowed: () =>
    failure(405, 'MethodNotAllowed', 'the server does not allow this method on the requested resource', {}),

  tooLarge: () => failure(413, 'RequestEntityTooLarge', 'Request entity too large: limit is 3145728'),

  /** What a watch gets, as an ERROR event, when it asks for history that has been compacted. */
  expired: (requested: number, oldest: number) =>
    failure(410, 'Expired', `too old resource version: ${requested} (${oldest})`),

  /** What a list with a `continue` token older than the compacted history gets. */
  continueExpired: () =>
    failure(
      410,
      'Expired',
      'The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter.',
    ),

  internal: (message: string) => failure(500, 'InternalError', `Internal error occurred: ${message}`, { causes: [{ message }] }),

  unavailable: (message: string) => failure(503, 'ServiceUnavailable', message),

  /** Any other code a test wants, with the reason the server would give it. */
  forCode(code: number, message: string): StatusError {
    if (code === 500) return Statuses.internal(message);
    if (code === 503) return Statuses.unavailable(message);
    if (code === 429) return failure(429, 'TooManyRequests', message, { retryAfterSeconds: 1 });
    if (code === 504) return failure(504, 'Timeout', message);
    return failure(code, 'Unknown', message);
  },
};

/** The Status a successful DELETE returns for kinds without graceful deletion or finalizers (Secrets, ConfigMaps). */
export function deleted(ref: ResourceRef, name: string, uid: string): object {
  return { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Success', details: { ...details(ref, name), uid } };
}
