// Entry point of a crypto worker thread. The worker's code is TypeScript; tsx's loader, which the
// main thread registers through its API (bin/identity.mjs), is not inherited by worker threads on
// Node 20, so it is registered here too, before the first .ts import.
import { register } from 'tsx/esm/api';

register();
const { serveCryptoJobs } = await import('./worker.ts');
serveCryptoJobs();
