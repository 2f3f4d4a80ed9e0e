import { readFile } from 'node:fs/promises';
import { ConfigError, NotFoundError } from '../../common/errors.ts';
import type { Fleet, FleetMember } from './fleet.ts';

const NAME = /^[A-Za-z0-9]([-A-Za-z0-9_./]{0,251}[A-Za-z0-9])?$/;
const ADMIN = /^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9]([-A-Za-z0-9.]*[A-Za-z0-9])?):(\d{1,5})$/;

/**
 * A fleet listed in a JSON file: `{"proxies":[{"name":"web","admin":"127.0.0.1:4191"}, ...]}`.
 * The local mesh writes `<home>/mesh/proxies.json`; an operator may write one by hand. Read and
 * validated on every call, so that an edit (a proxy added) is seen by a rotation in progress.
 */
export class FileFleet implements Fleet {
  readonly description: string;
  readonly #path: string;

  constructor(path: string) {
    this.#path = path;
    this.description = path;
  }

  async members(): Promise<FleetMember[]> {
    let text: string;
    try {
      text = await readFile(this.#path, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
        throw new NotFoundError(
          `proxy registry ${this.#path} does not exist; pass --proxies FILE with {"proxies":[{"name":"web","admin":"127.0.0.1:4191"}]}`,
        );
      }
      throw err;
    }
    return parseFleetFile(text, this.#path);
  }
}

/** Parses and validates a registry document; every problem names the file and the entry. */
export function parseFleetFile(text: string, source: string): FleetMember[] {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (err) {
    throw new ConfigError(`${source} is not valid JSON`, { cause: err });
  }
  const proxies = (doc as { proxies?: unknown } | null)?.proxies;
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc) || !Array.isArray(proxies)) {
    throw new ConfigError(`${source} must be an object with a "proxies" array: {"proxies":[{"name":"web","admin":"127.0.0.1:4191"}]}`);
  }
  const names = new Set<string>();
  const admins = new Set<string>();
  return proxies.map((entry: unknown, i) => {
    const where = `${source}: proxies[${i}]`;
    if (typeof entry !== 'object' || entry === null || Array.isArray(entry)) throw new ConfigError(`${where} is not an object`);
    const { name, admin } = entry as Record<string, unknown>;
    if (typeof name !== 'string' || !NAME.test(name)) {
      throw new ConfigError(`${where}: "name" must be a non-empty name of letters, digits, "-", "_", "." or "/" (got ${JSON.stringify(name)?.slice(0, 80)})`);
    }
    const m = typeof admin === 'string' ? ADMIN.exec(admin) : null;
    if (!m || Number(m[3]) < 1 || Number(m[3]) > 65535) {
      throw new ConfigError(`${where} (${name}): "admin" must be host:port with a port from 1 to 65535, e.g. 127.0.0.1:4191 (got ${JSON.stringify(admin)?.slice(0, 80)})`);
    }
    if (names.has(name)) throw new ConfigError(`${where}: the name "${name}" appears twice`);
    if (admins.has(admin as string)) throw new ConfigError(`${where} (${name}): the admin address ${admin as string} appears twice`);
    names.add(name);
    admins.add(admin as string);
    return { name, admin: admin as string };
  });
}
