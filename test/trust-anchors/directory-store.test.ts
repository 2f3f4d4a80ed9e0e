import { appendFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { HomeLayout } from '../../trust-anchors/directory-store.ts';
import { makeTestHome, type TestHome } from '../support/home.ts';

let home: TestHome | undefined;
afterEach(async () => {
  await home?.cleanup();
  home = undefined;
});

describe('DirectoryTrustStore.watch', () => {
  it('reports an issuer swap while the ledger in the same home is written continuously', async () => {
    home = await makeTestHome();
    const h = home;
    let changes = 0;
    const sub = h.store.watch(() => changes++);
    // A busy identity service appends to the ledger every few milliseconds; before the fix every
    // append pushed the debounce back (the poll's too), so a swap made meanwhile was never reported.
    let writing = true;
    const writer = (async () => {
      while (writing) {
        await appendFile(join(h.home, HomeLayout.ledger), '{"x":1}\n');
        await new Promise((r) => setTimeout(r, 5));
      }
    })();
    try {
      await new Promise((r) => setTimeout(r, 200));
      expect(changes).toBe(0); // ledger writes alone are not a change of trust material
      const current = await h.store.readIssuer();
      await h.store.writeIssuer({ certificatePem: current.certificatePem, privateKeyPem: current.privateKeyPem, caPem: current.caPem });
      const deadline = Date.now() + 5_000;
      while (changes === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
      expect(changes).toBeGreaterThan(0);
    } finally {
      writing = false;
      await writer;
      sub.close();
    }
  });
});
