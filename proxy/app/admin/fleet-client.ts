/**
 * A client of proxies' admin endpoints, for the commands that drive a fleet of proxies (trust
 * rotation). It trusts nothing it is told: every field of an answer is checked, and anything
 * else is an error naming what was wrong, so that a rotation never moves on on a bad reading.
 *
 * The contract it expects from a proxy's admin listener:
 * - `GET /identity` -> 200 once the proxy holds a certificate, 503 before (same body shape):
 *   `{ "identity": string, "bundleFingerprint": sha256hex, "certificateAnchors": sha256hex[],
 *      "issuerFingerprint": sha256hex | null, "notAfter": ISO-8601 | null, ...other fields ignored }`
 *   with fingerprints as `TrustBundle.fingerprint` and `ParsedCertificate.fingerprint` compute
 *   them (trust-anchors/rotation/fingerprints.ts); `certificateAnchors` empty and `notAfter` null
 *   without a certificate.
 * - `POST /renew` (empty body) -> 202 (any 2xx): the proxy starts renewing its certificate now;
 *   the answer does not wait for the new certificate.
 */
import { request, type IncomingMessage } from 'node:http';
import { formatDuration } from '../../../common/duration.ts';
import { IdentityError } from '../../../common/errors.ts';
import { isFingerprint } from '../../../trust-anchors/rotation/fingerprints.ts';

/** A proxy's admin endpoint did not answer, or answered something we cannot use. The message names the reason only; callers prefix the proxy. */
export class ProxyAdminError extends IdentityError {
  readonly code = 'ERR_PROXY_ADMIN' as const;
}

/** What a proxy reports about the trust it holds. */
export interface ProxyTrust {
  identity: string;
  bundleFingerprint: string;
  /** Fingerprints of the bundle anchors the current certificate chains to; empty without a certificate. */
  certificateAnchors: string[];
  /** SHA-256 (hex) of the DER of the certificate that issued the leaf; null without a certificate. */
  issuerFingerprint: string | null;
  notAfter: string | null;
  /** Serial (hex) of the certificate in use; null without one (or from a proxy that does not say). */
  serial: string | null;
}

const MAX_BODY_BYTES = 64 * 1024;
const MAX_ANCHORS = 64;

/**
 * `GET /identity` on the admin at `admin` (`host:port`).
 *
 * @example const trust = await readProxyTrust('127.0.0.1:4191', 2_000); // trust.bundleFingerprint
 */
export async function readProxyTrust(admin: string, timeoutMs: number): Promise<ProxyTrust> {
  const { status, body } = await call(admin, 'GET', '/identity', timeoutMs);
  if (status !== 200 && status !== 503) throw new ProxyAdminError(`GET /identity answered HTTP ${status}`);
  let doc: unknown;
  try {
    doc = JSON.parse(body);
  } catch {
    throw new ProxyAdminError(`GET /identity answered HTTP ${status} with a body that is not JSON`);
  }
  return parseIdentityDocument(doc);
}

/** `POST /renew`: asks the proxy to renew its certificate now. Resolves when the request is accepted. */
export async function requestRenewal(admin: string, timeoutMs: number): Promise<void> {
  const { status } = await call(admin, 'POST', '/renew', timeoutMs);
  if (status < 200 || status > 299) {
    const hint = status === 404 || status === 405 ? ' (a proxy without the renew endpoint?)' : '';
    throw new ProxyAdminError(`POST /renew answered HTTP ${status}${hint}`);
  }
}

/** Checks every field a rotation relies on; the first wrong one is the error. */
export function parseIdentityDocument(doc: unknown): ProxyTrust {
  const bad = (what: string): never => {
    throw new ProxyAdminError(`GET /identity: ${what}`);
  };
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) bad('the answer is not a JSON object');
  const d = doc as Record<string, unknown>;
  if (typeof d['identity'] !== 'string' || d['identity'].length === 0 || d['identity'].length > 512) bad('"identity" is not a non-empty string');
  if (!isFingerprint(d['bundleFingerprint'])) bad('"bundleFingerprint" is not a SHA-256 fingerprint (64 lower-case hex digits)');
  const anchors = d['certificateAnchors'];
  if (anchors === undefined) bad('"certificateAnchors" is missing (a proxy too old to take part in a rotation?)');
  if (!Array.isArray(anchors) || anchors.length > MAX_ANCHORS || !anchors.every(isFingerprint)) bad('"certificateAnchors" is not a list of SHA-256 fingerprints');
  const issuer = d['issuerFingerprint'];
  if (issuer === undefined) bad('"issuerFingerprint" is missing');
  if (issuer !== null && !isFingerprint(issuer)) bad('"issuerFingerprint" is neither null nor a SHA-256 fingerprint');
  const notAfter = d['notAfter'];
  if (notAfter !== null && (typeof notAfter !== 'string' || Number.isNaN(Date.parse(notAfter)))) bad('"notAfter" is neither null nor a date');
  if (notAfter === null && ((anchors as string[]).length > 0 || issuer !== null)) bad('reports no certificate ("notAfter" null) but certificate anchors or an issuer');
  const serial = d['serial'];
  if (serial !== undefined && serial !== null && (typeof serial !== 'string' || !/^[0-9a-f]{1,64}$/.test(serial))) bad('"serial" is neither null nor a hex serial number');
  return {
    serial: (serial as string | null | undefined) ?? null,
    identity: d['identity'] as string,
    bundleFingerprint: d['bundleFingerprint'] as string,
    certificateAnchors: [...(anchors as string[])],
    issuerFingerprint: issuer as string | null,
    notAfter: notAfter as string | null,
  };
}

function call(admin: string, method: 'GET' | 'POST', path: string, timeoutMs: number): Promise<{ status: number; body: string }> {
  let url: URL;
  try {
    url = new URL(path, `http://${admin}`);
  } catch {
    return Promise.reject(new ProxyAdminError(`"${admin}" is not a host:port admin address`));
  }
  return new Promise((resolve, reject) => {
    const req = request(url, { method, agent: false, headers: { accept: 'application/json', 'content-length': 0 } });
    const timer = setTimeout(() => {
      req.destroy();
      reject(new ProxyAdminError(`no answer to ${method} ${path} within ${timeoutMs < 10_000 ? `${timeoutMs}ms` : formatDuration(timeoutMs)}`));
    }, timeoutMs);
    req.on('error', (err: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      reject(new ProxyAdminError(`unreachable: ${err.code ?? err.message}`, { cause: err }));
    });
    req.on('response', (res: IncomingMessage) => {
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (chunk: Buffer) => {
        size += chunk.length;
        if (size > MAX_BODY_BYTES) {
          clearTimeout(timer);
          req.destroy();
          reject(new ProxyAdminError(`${method} ${path} answered more than ${MAX_BODY_BYTES} bytes`));
        } else chunks.push(chunk);
      });
      res.on('end', () => {
        clearTimeout(timer);
        resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') });
      });
      res.on('error', (err) => {
        clearTimeout(timer);
        reject(new ProxyAdminError(`${method} ${path}: the answer broke off (${err.message})`, { cause: err }));
      });
    });
    req.end();
  });
}
