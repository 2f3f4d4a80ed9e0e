import { Watch, type KubeConfig } from '@kubernetes/client-node';

export interface RecordedEvent {
  type: string;
  object: { kind?: string; code?: number; reason?: string; metadata?: { name?: string; resourceVersion?: string } } & Record<string, unknown>;
}

/**
 * Opens a watch through the client library's `Watch` and queues what it delivers, so that a test
 * can await the next event or the end of the stream instead of sleeping.
 */
export class WatchRecorder {
  readonly events: RecordedEvent[] = [];
  /** Settles with the error `done` got (null for a clean end of stream). */
  readonly ended: Promise<unknown>;
  #controller: AbortController | undefined;
  #waiting: (() => void)[] = [];
  #read = 0;
  #endedFlag = false;
  #abortRequested = false;

  private constructor(start: (onEvent: (e: RecordedEvent) => void, onDone: (err: unknown) => void) => Promise<AbortController>) {
    let finish!: (err: unknown) => void;
    this.ended = new Promise((resolve) => (finish = resolve));
    void start(
      (e) => {
        this.events.push(e);
        this.#wake();
      },
      (err) => {
        this.#endedFlag = true;
        finish(err);
        this.#wake();
      },
    ).then((c) => {
      this.#controller = c;
      if (this.#abortRequested) c.abort();
    });
  }

  static open(kc: KubeConfig, path: string, query: Record<string, string | boolean | undefined>): WatchRecorder {
    return new WatchRecorder((onEvent, onDone) =>
      new Watch(kc).watch(path, query, (type, object) => onEvent({ type, object }), onDone),
    );
  }

  /** The next event not yet returned; rejects if the stream ends first or nothing comes in 10 s. */
  async next(): Promise<RecordedEvent> {
    const deadline = Date.now() + 10_000;
    while (this.#read >= this.events.length) {
      if (this.#endedFlag) throw new Error(`the watch ended; events: ${JSON.stringify(this.events.map((e) => e.type))}`);
      if (Date.now() > deadline) throw new Error('no watch event within 10 s');
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, 1_000);
        this.#waiting.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
    return this.events[this.#read++]!;
  }

  abort(): void {
    this.#abortRequested = true;
    this.#controller?.abort();
  }

  #wake(): void {
    const waiting = this.#waiting;
    this.#waiting = [];
    for (const w of waiting) w();
  }
}
