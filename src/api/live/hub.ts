/**
 * Live progress of batches, for any number of watchers: ONE poller per watched batch per process
 * asks src/batches about once a second (the workflow's progress query while it runs, the row
 * after) and reads newly failed items; every watcher of the batch gets what that poller found. A
 * watcher that comes back with the id of the last event it saw continues where it left off, on this process or any other (ids are positions in the batch's state, see
 * position.ts). A new watcher starts now: the current snapshot, then what happens next.
 */
import type { Logger } from 'pino';
import type { Batches, ItemView } from '../../batches';
import { isTerminal } from '../../contracts/workflow';
import { advance, type Found, type LiveEvent, type Snapshot } from './events';
import { parseId, snapshotStamp, START, type Position } from './position';

export { isTerminalEventType, type LiveEvent, type LiveEventType } from './events';

export interface LiveHub {
  /**
   * undefined when the batch is unknown or another tenant's. onEvent gets every event after
   * lastEventId, ending with the terminal event; returns an unsubscribe function. onEvent is never
   * called before the returned promise has resolved. `onEnd`, when given, is called if the stream
   * ends without a terminal event (the hub closes at shutdown).
   */
  watch(
    tenantId: string,
    batchId: string,
    lastEventId: string | undefined,
    onEvent: (e: LiveEvent) => void,
    onEnd?: () => void,
    /**
     * Between pages of a catch-up, resolves once the client has taken what it was sent (false:
     * it did not, and was dropped): a long replay goes at the client's pace, never into a buffer.
     */
    pace?: () => Promise<boolean>,
  ): Promise<(() => void) | undefined>;
  close(): void;
}

export interface LiveHubDeps {
  batches: Pick<Batches, 'get' | 'exists' | 'firstUnfinished' | 'failedBetween'>;
  log: Logger;
  /** How often a watched batch is polled. Default 1000 ms: the contract asks for progress at least every 2 s. */
  intervalMs?: number;
}

const DEFAULT_INTERVAL_MS = 1_000;
/** Events a poller keeps, so a watcher reconnecting to this process replays exactly what it missed. */
const REPLAY_BUFFER = 1_000;
/** Failed items read per query; a tick pages until it has them all. */
const FAILED_PAGE = 500;
const NO_UPPER_BOUND = 2 ** 31 - 1;

interface Watcher {
  pos: Position;
  onEvent: (e: LiveEvent) => void;
  onEnd?: () => void;
  active: boolean;
  /** Caught up with its poller: from now on it gets what the poller finds. */
  joined: boolean;
  pace?: () => Promise<boolean>;
}

class Poller {
  /** Every watcher, including those still catching up: the poller lives while this is not empty. */
  readonly watchers = new Set<Watcher>();
  /** The position of a watcher that has seen everything this poller sent: the replay buffer's numbering. */
  private readonly pos: Position = { ...START };
  private last: Snapshot | undefined;
  /** Set once the batch has finished: late joiners get the rest of the failures and this. */
  private final: Snapshot | undefined;
  private readonly sent: LiveEvent[] = [];
  /** Every item below this seq was final at the last look: where the next scan for the unfinished starts. */
  private finalBelow = 0;
  private chain: Promise<void> = Promise.resolve();
  private timer: NodeJS.Timeout | undefined;
  stopped = false;

  constructor(
    private readonly deps: Required<LiveHubDeps>,
    readonly tenantId: string,
    readonly batchId: string,
    private readonly onStop: (p: Poller) => void,
  ) {}

  /** Runs `fn` after everything queued before it: ticks and joins never interleave. */
  private enqueue(fn: () => Promise<void>): void {
    this.chain = this.chain
      .then(fn)
      .catch((err: unknown) => this.deps.log.warn({ err, batchId: this.batchId }, 'live progress: poll failed; trying again'));
  }

  start(): void {
    this.enqueue(() => this.tick());
  }

  /** Counts `w` as a watcher now; catches it up (in turn with the ticks) and then lets it follow. */
  join(w: Watcher, lastEventId: string | undefined): void {
    this.watchers.add(w);
    // Deferred: the caller has its unsubscribe function before the first event arrives.
    setImmediate(() => this.enqueue(() => this.catchUp(w, lastEventId)));
  }

  private async catchUp(w: Watcher, lastEventId: string | undefined): Promise<void> {
    if (!w.active) return;
    const at = lastEventId ? this.sent.map((e) => e.id).lastIndexOf(lastEventId) : -1;
    if (at >= 0) {
      // Reconnected to this process: replay exactly what it missed, numbered as it was.
      for (const e of this.sent.slice(at + 1)) this.send(w, e);
      Object.assign(w.pos, this.pos);
    } else {
      const resumed = parseId(lastEventId);
      Object.assign(w.pos, resumed ?? START);
      // A new watcher starts now: the failures before it joined are one GET …/items?status=failed
      // away, and replaying them to every newcomer cost each a read of the whole list.
      if (!resumed) w.pos.f = this.pos.f;
      if (this.final) {
        if (resumed)
          await this.eachFailedBetween(
            w.pos.f,
            NO_UPPER_BOUND,
            (item) => this.deliver([w], { kind: 'failed', item }),
            () => w.active,
            [w],
          );
        this.deliver([w], this.final);
      } else if (this.last) {
        // Bring it to where this poller stands: the last snapshot, then the failures in between.
        this.deliver([w], this.last);
        await this.eachFailedBetween(
          w.pos.f,
          this.pos.f,
          (item) => this.deliver([w], { kind: 'failed', item }),
          () => w.active,
          [w],
        );
      }
    }
    if (this.final || (this.stopped && w.active)) {
      // Finished (it has had the terminal event) or the hub is closing.
      if (!this.final) w.onEnd?.();
      this.watchers.delete(w);
      return;
    }
    w.joined = true;
  }

  leave(w: Watcher): void {
    w.active = false;
    this.watchers.delete(w);
    if (this.watchers.size === 0) this.stop();
  }

  stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    clearTimeout(this.timer);
    this.onStop(this);
  }

  /** One look at the batch: a changed snapshot, then failed items now safe to report; or, at the end, the rest and the terminal event. */
  private async tick(): Promise<void> {
    if (this.stopped) return;
    const started = Date.now();
    try {
      const body = await this.deps.batches.get(this.tenantId, this.batchId);
      if (this.stopped) return;
      if (!body) {
        // Deleted under us (retention runs only on finished batches, whose watchers are gone).
        for (const w of this.watchers) w.onEnd?.();
        this.stop();
        return;
      }
      const snapshot: Snapshot = { kind: 'snapshot', body, ...snapshotStamp(body) };
      if (isTerminal(body.status)) {
        // The last failures, for the watchers that were following; a poller started for a batch
        // that had already finished has none yet (its newcomers start at the end).
        const following = (): boolean => [...this.watchers].some((w) => w.joined);
        if (following())
          await this.eachFailedBetween(this.pos.f, NO_UPPER_BOUND, (item) => this.broadcast({ kind: 'failed', item }), following, [
            ...this.watchers,
          ]);
        this.broadcast(snapshot);
        this.final = snapshot;
        for (const w of [...this.watchers]) if (w.joined) this.watchers.delete(w);
        this.stop();
        return;
      }
      if (snapshot.h === this.pos.h) return;
      this.broadcast(snapshot);
      this.last = snapshot;
      if (body.counts.failed > 0) {
        const unfinished = await this.deps.batches.firstUnfinished(this.batchId, Math.max(this.pos.f, this.finalBelow));
        this.finalBelow = unfinished ?? NO_UPPER_BOUND;
        await this.eachFailedBetween(
          this.pos.f,
          this.finalBelow,
          (item) => this.broadcast({ kind: 'failed', item }),
          () => this.watchers.size > 0,
          [...this.watchers],
        );
      }
    } finally {
      if (!this.stopped)
        this.timer = setTimeout(() => this.enqueue(() => this.tick()), Math.max(0, this.deps.intervalMs - (Date.now() - started)));
    }
  }

  /**
   * Hands `each` the failed items with from <= seq < to, a page at a time, while `wanted()` holds:
   * never more than a page in memory, and a watcher that went away (or was dropped for not
   * reading) stops the reading.
   */
  private async eachFailedBetween(
    from: number,
    to: number,
    each: (item: ItemView) => void,
    wanted: () => boolean,
    pace: Watcher[],
  ): Promise<void> {
    for (let at = from; at < to && wanted();) {
      const page = await this.deps.batches.failedBetween(this.batchId, at, to, FAILED_PAGE);
      for (const item of page) each(item);
      if (page.length < FAILED_PAGE) break;
      at = page[page.length - 1]!.seq + 1;
      // The next page waits for the clients to take this one (a client that does not is dropped).
      await Promise.all(pace.filter((w) => w.active).map((w) => w.pace?.()));
    }
  }

  private broadcast(found: Found): void {
    const e = advance(this.pos, found, this.batchId);
    if (e) {
      this.sent.push(e);
      if (this.sent.length > REPLAY_BUFFER) this.sent.splice(0, this.sent.length - REPLAY_BUFFER);
    }
    this.deliver(
      [...this.watchers].filter((w) => w.joined),
      found,
    );
  }

  private deliver(watchers: Watcher[], found: Found): void {
    for (const w of watchers) {
      const e = advance(w.pos, found, this.batchId);
      if (e) this.send(w, e);
    }
  }

  private send(w: Watcher, e: LiveEvent): void {
    if (!w.active) return;
    try {
      w.onEvent(e);
    } catch (err) {
      this.deps.log.warn({ err, batchId: this.batchId }, 'live progress: a watcher failed; dropping it');
      this.leave(w);
    }
  }
}

export function createLiveHub(deps: LiveHubDeps): LiveHub {
  const full: Required<LiveHubDeps> = { intervalMs: DEFAULT_INTERVAL_MS, ...deps };
  const pollers = new Map<string, Poller>();
  let closed = false;

  return {
    async watch(tenantId, batchId, lastEventId, onEvent, onEnd, pace) {
      // Only the row: the tenant check must not cost a workflow query.
      if (closed || !(await deps.batches.exists(tenantId, batchId))) return undefined;
      let poller = pollers.get(batchId);
      if (!poller || poller.stopped) {
        poller = new Poller(full, tenantId, batchId, (p) => pollers.get(p.batchId) === p && pollers.delete(p.batchId));
        pollers.set(batchId, poller);
        poller.start();
      }
      const w: Watcher = { pos: { ...START }, onEvent, onEnd, active: true, joined: false, pace };
      const p = poller;
      p.join(w, lastEventId);
      return () => p.leave(w);
    },
    close() {
      closed = true;
      for (const p of [...pollers.values()]) {
        const watchers = [...p.watchers];
        p.stop();
        for (const w of watchers) {
          w.active = false;
          w.onEnd?.();
        }
      }
      pollers.clear();
    },
  };
}
