/** Test controls of the API server that are about time and failure: injected faults and waiting. */

/** Which requests a fault applies to; all when left out. */
export type RequestMatcher = (request: { method: string; path: string; watch: boolean }) => boolean;

export type Fault =
  | { kind: 'status'; code: number }
  | { kind: 'hang' }
  | { kind: 'hook'; action: () => void };

type Planned = Fault & { remaining: number; match: RequestMatcher };

/** Faults in the order they were planned; each applies to its next `remaining` matching requests. */
export class FaultPlan {
  readonly #planned: Planned[] = [];

  add(fault: Fault, count: number | undefined, match: RequestMatcher | undefined): void {
    this.#planned.push({ ...fault, remaining: count ?? Infinity, match: match ?? (() => true) });
  }

  take(request: Parameters<RequestMatcher>[0]): Fault | undefined {
    const fault = this.#planned.find((f) => f.remaining > 0 && f.match(request));
    if (fault) fault.remaining--;
    return fault;
  }

  clear(): void {
    this.#planned.length = 0;
  }
}

const WAIT_LIMIT_MS = 15_000;

/** Conditions that tests await; re-checked on every change the server reports, never polled. */
export class Waiters {
  readonly #waiting = new Set<() => boolean>();

  waitFor(check: () => boolean, what: string, context: () => string): Promise<void> {
    if (check()) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#waiting.delete(waiter);
        reject(new Error(`timed out waiting for ${what}; ${context()}`));
      }, WAIT_LIMIT_MS);
      const waiter = () => {
        if (!check()) return false;
        clearTimeout(timer);
        this.#waiting.delete(waiter);
        resolve();
        return true;
      };
      this.#waiting.add(waiter);
    });
  }

  changed(): void {
    for (const waiter of [...this.#waiting]) waiter();
  }
}
