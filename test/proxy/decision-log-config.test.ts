/**
 * The decision log's configuration: `--decision-log*` flags and the file's `decisionLog`
 * section, validated with errors that name the field.
 */
import { describe, expect, it } from 'vitest';
import { parseProxyConfig, type ProxyFlags } from '../../proxy/config.ts';
import { configErrorOf } from './support/config.ts';

const BASE: ProxyFlags = {
  localIdentity: 'web.demo.serviceaccount.identity.linkerd.cluster.local',
  tokenFile: '/t',
  trustBundle: '/b',
  identityAddr: '127.0.0.1:8080',
  app: '127.0.0.1:8081',
};
const parse = (flags: ProxyFlags, document?: unknown) => parseProxyConfig({ ...BASE, ...flags }, document);
const failure = (flags: ProxyFlags, document?: unknown): string => configErrorOf(() => parse(flags, document));
const MiB = 1024 * 1024;

describe('decision log configuration', () => {
  it('is off by default', () => {
    expect(parse({}).decisionLog).toBeUndefined();
  });

  it('from flags, with the defaults 10MiB and 5 files', () => {
    expect(parse({ decisionLog: '/var/log/d.jsonl' }).decisionLog).toEqual({ path: '/var/log/d.jsonl', maxSizeBytes: 10 * MiB, maxFiles: 5 });
    expect(parse({ decisionLog: 'd.jsonl', decisionLogMaxSize: '512KiB', decisionLogMaxFiles: '0' }).decisionLog).toEqual({ path: 'd.jsonl', maxSizeBytes: 512 * 1024, maxFiles: 0 });
  });

  it('sizes: 10MiB, 512KiB, 1GiB, 1.5MiB, a number of bytes (with or without B), any case', () => {
    const size = (text: string) => parse({ decisionLog: 'd.jsonl', decisionLogMaxSize: text }).decisionLog!.maxSizeBytes;
    expect(size('10MiB')).toBe(10 * MiB);
    expect(size('512kib')).toBe(512 * 1024);
    expect(size('1GiB')).toBe(1024 * MiB);
    expect(size('1.5MiB')).toBe(1.5 * MiB);
    expect(size('65536')).toBe(65536);
    expect(size('65536B')).toBe(65536);
  });

  it('from the file section; a flag overrides its field', () => {
    const document = { decisionLog: { path: '/logs/d.jsonl', maxSize: '1MiB', maxFiles: 2 } };
    expect(parse({}, document).decisionLog).toEqual({ path: '/logs/d.jsonl', maxSizeBytes: MiB, maxFiles: 2 });
    expect(parse({ decisionLogMaxFiles: '7' }, document).decisionLog).toEqual({ path: '/logs/d.jsonl', maxSizeBytes: MiB, maxFiles: 7 });
    expect(parse({}, { decisionLog: { path: '/logs/d.jsonl', maxSize: 1_048_576 } }).decisionLog!.maxSizeBytes).toBe(MiB);
  });

  it('refuses bad values, naming the field', () => {
    expect(failure({ decisionLog: 'd.jsonl', decisionLogMaxSize: '10MB' })).toMatch(/^--decision-log-max-size: expected a size such as 10MiB, 512KiB or a number of bytes, found "10MB"/);
    expect(failure({ decisionLog: 'd.jsonl', decisionLogMaxSize: '1KiB' })).toMatch(/^--decision-log-max-size: 1KiB is outside the allowed range 16KiB\.\.1GiB/);
    expect(failure({ decisionLog: 'd.jsonl', decisionLogMaxSize: '2GiB' })).toMatch(/outside the allowed range/);
    expect(failure({ decisionLog: 'd.jsonl', decisionLogMaxFiles: '-1' })).toMatch(/^--decision-log-max-files: expected a number of rotated files in 0\.\.100/);
    expect(failure({ decisionLog: 'd.jsonl', decisionLogMaxFiles: '101' })).toMatch(/^--decision-log-max-files:/);
    expect(failure({}, { decisionLog: { path: 'd.jsonl', maxFiles: 1.5 } })).toMatch(/^decisionLog\.maxFiles:/);
    expect(failure({}, { decisionLog: { path: 'd.jsonl', maxSize: true } })).toMatch(/^decisionLog\.maxSize:/);
    expect(failure({}, { decisionLog: { path: '' } })).toMatch(/^decisionLog\.path: expected a non-empty string/);
    expect(failure({ decisionLog: '/var/log/' })).toMatch(/^--decision-log: expected a file/);
    expect(failure({}, { decisionLog: { path: 'd.jsonl', maxsize: '1MiB' } })).toMatch(/^decisionLog\.maxsize: unknown field; known fields here: path, maxSize, maxFiles/);
    expect(failure({}, { decisionLog: 'd.jsonl' })).toMatch(/^decisionLog: expected a mapping/);
  });

  it('refuses a limit without a log: a setting that would do nothing', () => {
    expect(failure({ decisionLogMaxSize: '1MiB' })).toBe('--decision-log-max-size: is set, but no decision log is (--decision-log FILE)');
    expect(failure({}, { decisionLog: { maxFiles: 3 } })).toBe('decisionLog.maxFiles: is set, but no decision log is (decisionLog.path)');
  });
});
