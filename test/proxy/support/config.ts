/** Shared by the proxy configuration tests: the message of the ConfigError a parse must throw. */
import { expect } from 'vitest';
import { ConfigError } from '../../../common/errors.ts';

/** Runs `parse`, which must throw a ConfigError, and answers its message. */
export function configErrorOf(parse: () => unknown): string {
  try {
    parse();
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as Error).message;
  }
  throw new Error('expected a ConfigError');
}
