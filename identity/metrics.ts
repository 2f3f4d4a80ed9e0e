/**
 * The identity service's Prometheus metrics. Every name and label key lives here; each service
 * instance gets its own Registry (never prom-client's global one), so two instances in a process,
 * or two tests, cannot see each other's numbers.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export interface IdentityMetrics {
  registry: Registry;
  /** `identity_certify_requests_total{code}`; code is the gRPC status name (OK, INVALID_ARGUMENT, ...). */
  certifyRequests: Counter<'code'>;
  /** `identity_certify_duration_seconds`: from request decoded to response handed to grpc-js. */
  certifyDuration: Histogram;
  /** `identity_issuer_expiry_timestamp_seconds`: notAfter of the issuer in use. */
  issuerExpiry: Gauge;
  /** `identity_anchor_expiry_timestamp_seconds{fingerprint}`: notAfter of each trust anchor. */
  anchorExpiry: Gauge<'fingerprint'>;
  /** `identity_issuer_reloads_total{result}`; result is `success` or `failure`. */
  issuerReloads: Counter<'result'>;
  /** `identity_ledger_records_total`: issuance records written. */
  ledgerRecords: Counter;
  /** `identity_serving_certificate_expiry_timestamp_seconds`: notAfter of the service's own TLS certificate. */
  servingCertificateExpiry: Gauge;
}

/** The part of the metrics that the gRPC transport writes. */
export type CertifyMetrics = Pick<IdentityMetrics, 'certifyRequests' | 'certifyDuration' | 'servingCertificateExpiry'>;

/** 0.1 ms (a cached rejection) to 1 s (a slow token review); signing itself is ~1 ms. */
export const CERTIFY_DURATION_BUCKETS = [
  0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1,
];

// Series that exist from the start, so that dashboards and rate() see zeros instead of gaps.
const INITIAL_CODES = [
  'OK',
  'INVALID_ARGUMENT',
  'UNAUTHENTICATED',
  'PERMISSION_DENIED',
  'FAILED_PRECONDITION',
  'RESOURCE_EXHAUSTED',
  'UNAVAILABLE',
  'INTERNAL',
] as const;
export const ISSUER_RELOAD_RESULTS = ['success', 'failure'] as const;

export interface IdentityMetricsOptions {
  /** Node process metrics (CPU, memory, event loop, GC); on by default. */
  processMetrics?: boolean;
}

/**
 * @example
 * const metrics = createIdentityMetrics();
 * metrics.certifyRequests.inc({ code: 'OK' });
 * await startAdminServer({ host: '127.0.0.1', port: 9990, registry: metrics.registry, ... });
 */
export function createIdentityMetrics(options: IdentityMetricsOptions = {}): IdentityMetrics {
  const registry = new Registry();
  const registers = [registry];

  const certifyRequests = new Counter({
    name: 'identity_certify_requests_total',
    help: 'Certify requests answered, by gRPC status code name.',
    labelNames: ['code'] as const,
    registers,
  });
  for (const code of INITIAL_CODES) certifyRequests.inc({ code }, 0);

  const issuerReloads = new Counter({
    name: 'identity_issuer_reloads_total',
    help: 'Attempts to load a new issuer certificate and key, by result (success, failure).',
    labelNames: ['result'] as const,
    registers,
  });
  for (const result of ISSUER_RELOAD_RESULTS) issuerReloads.inc({ result }, 0);

  const metrics: IdentityMetrics = {
    registry,
    certifyRequests,
    certifyDuration: new Histogram({
      name: 'identity_certify_duration_seconds',
      help: 'Time to answer a Certify request, including validation and signing.',
      buckets: CERTIFY_DURATION_BUCKETS,
      registers,
    }),
    issuerExpiry: new Gauge({
      name: 'identity_issuer_expiry_timestamp_seconds',
      help: 'notAfter of the issuer certificate in use, as a Unix timestamp.',
      registers,
    }),
    anchorExpiry: new Gauge({
      name: 'identity_anchor_expiry_timestamp_seconds',
      help: 'notAfter of each trust anchor, as a Unix timestamp, by SHA-256 fingerprint.',
      labelNames: ['fingerprint'] as const,
      registers,
    }),
    issuerReloads,
    ledgerRecords: new Counter({
      name: 'identity_ledger_records_total',
      help: 'Issuance records written to the ledger.',
      registers,
    }),
    servingCertificateExpiry: new Gauge({
      name: 'identity_serving_certificate_expiry_timestamp_seconds',
      help: "notAfter of the identity service's own TLS certificate, as a Unix timestamp.",
      registers,
    }),
  };
  if (options.processMetrics ?? true) collectDefaultMetrics({ register: registry });
  return metrics;
}
