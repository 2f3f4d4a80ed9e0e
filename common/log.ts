import { pino, type Logger } from 'pino';

export type { Logger };

/**
 * Structured JSON logs on standard error (standard output stays for a command's answer).
 * pino: fast, well kept, and its redaction is a second line of defence for secrets that
 * must never appear in a log line.
 */
export function createLogger(options: { name: string; level?: string; destination?: number }): Logger {
  return pino(
    {
      name: options.name,
      level: options.level ?? 'info',
      base: undefined,
      timestamp: pino.stdTimeFunctions.isoTime,
      redact: { paths: ['token', '*.token', 'privateKey', '*.privateKey', 'key', '*.key'], censor: '[redacted]' },
      formatters: { level: (label) => ({ level: label }) },
    },
    pino.destination({ fd: options.destination ?? 2, sync: true }),
  );
}

/** A logger that drops everything; the default where a caller passes none. */
export const silentLogger: Logger = pino({ level: 'silent' });
