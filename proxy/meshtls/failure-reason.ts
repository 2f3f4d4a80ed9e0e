/**
 * Names a failed handshake for logs and the `proxy_tls_handshake_failures_total{reason}` label,
 * from node's and OpenSSL's error codes. A small fixed set, so that the label stays bounded.
 */
import { IDENTITY_MISMATCH_CODE } from './peer-identity.ts';

export const HANDSHAKE_FAILURE_REASONS = [
  'no-identity', // this proxy holds no certificate yet
  'no-client-certificate', // inbound: the client sent none
  'untrusted-peer', // the peer's chain does not verify against the bundle
  'rejected-by-peer', // the peer refused our certificate (unknown CA, bad or missing certificate)
  'identity-mismatch', // verified, but not the expected identity, or not exactly one DNS SAN
  'protocol', // version, cipher or ALPN disagreement, or a malformed handshake
  'alpn', // outbound opaque: the server did not negotiate transport.l5d.io/v1
  'connect', // outbound: the TCP connection to the server proxy failed
  'timeout',
  'closed', // the peer went away mid-handshake
  'other',
] as const;
export type HandshakeFailureReason = (typeof HANDSHAKE_FAILURE_REASONS)[number];

/** A handshake that did not produce a usable connection, with the reason to count and log. */
export class HandshakeFailure extends Error {
  constructor(readonly reason: HandshakeFailureReason, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'HandshakeFailure';
  }
}

const CONNECT_CODES = new Set(['ECONNREFUSED', 'EHOSTUNREACH', 'ENETUNREACH', 'ETIMEDOUT', 'EADDRNOTAVAIL', 'ENOTFOUND', 'EAI_AGAIN']);
const CLOSED_CODES = new Set(['ECONNRESET', 'EPIPE', 'ECONNABORTED', 'ERR_SOCKET_CLOSED']);
const PEER_REJECTED = /ALERT_(UNKNOWN_CA|BAD_CERTIFICATE|CERTIFICATE_REQUIRED|CERTIFICATE_UNKNOWN|UNSUPPORTED_CERTIFICATE|DECRYPT_ERROR|ACCESS_DENIED|CERTIFICATE_EXPIRED|CERTIFICATE_REVOKED)$/;

export function handshakeFailureReason(err: unknown): HandshakeFailureReason {
  const code = typeof (err as { code?: unknown })?.code === 'string' ? (err as { code: string }).code : '';
  if (code === IDENTITY_MISMATCH_CODE) return 'identity-mismatch';
  if (code === 'ERR_SSL_PEER_DID_NOT_RETURN_A_CERTIFICATE') return 'no-client-certificate';
  if (CONNECT_CODES.has(code)) return 'connect';
  if (CLOSED_CODES.has(code)) return 'closed';
  if (PEER_REJECTED.test(code)) return 'rejected-by-peer';
  // node reports a failed chain verification with OpenSSL's X509 verify code: upper case, no ERR_
  // prefix (UNABLE_TO_VERIFY_LEAF_SIGNATURE, CERT_HAS_EXPIRED, SELF_SIGNED_CERT_IN_CHAIN, ...).
  if (/^[A-Z0-9_]+$/.test(code) && !code.startsWith('ERR_') && !/^E[A-Z]+$/.test(code)) return 'untrusted-peer';
  if (code === 'ERR_SSL_CERTIFICATE_VERIFY_FAILED' || code === 'ERR_TLS_CERT_ALTNAME_INVALID') return 'untrusted-peer';
  if (code.startsWith('ERR_SSL_') || code.startsWith('ERR_TLS_')) return 'protocol';
  return 'other';
}
