import { type Clock, realClock } from './clock.js';

/**
 * One pending expiry in a {@link DeadlineLane}: a node of a doubly linked list, so cancelling
 * costs two pointer writes.
 */
export class Expiry {
  readonly at: number;
  readonly #fire: () => void;
  prev: Expiry | undefined = undefined;
  next: Expiry | undefined = undefined;
  lane: DeadlineLane | undefined;

  constructor(lane: DeadlineLane, at: number, fire: () => void) {
    this.lane = lane;
    this.at = at;
    this.#fire = fire;
  }

  /** Stops this expiry from firing; a no-op once it fired or was cancelled. */
  cancel(): void {
    this.lane?.remove(this);
  }

  /** @internal Called by the lane once the expiry is due. */
  fire(): void {
    this.#fire();
  }
}

/**
 * The expiries of one duration on one clock, in the order they fall due: every deadline set with
 * the same duration falls due after the ones set before it, so appending keeps the list sorted.
 * One timer per lane is armed at a time (at the head's due time); cancelling an expiry never
 * touches the timer, and a timer that finds its head gone re-arms for the new head. A steady
 * stream of requests with a 30 s timeout thus costs one timer per 30 s, not one per request.
 */
export class DeadlineLane {
  readonly #clock: Clock;
  readonly #keepIdleTimer: boolean;
  #head: Expiry | undefined = undefined;
  #tail: Expiry | undefined = undefined;
  #armedAt = Infinity;
  #cancelTimer: (() => void) | undefined = undefined;

  constructor(clock: Clock) {
    this.#clock = clock;
    // On the real clock an idle lane keeps its timer armed: that is what makes a deadline free at
    // concurrency 1 (no setTimeout per request). A test clock fires every pending timer on
    // runAll() and counts them, so there an empty lane drops its timer.
    this.#keepIdleTimer = clock === realClock;
  }

  add(at: number, fire: () => void): Expiry {
    const expiry = new Expiry(this, at, fire);
    const tail = this.#tail;
    if (tail === undefined) {
      this.#head = this.#tail = expiry;
    } else if (tail.at <= at) {
      tail.next = expiry;
      expiry.prev = tail;
      this.#tail = expiry;
    } else {
      // A clock stepped back or a mixed lane: insert in order from the tail.
      let after: Expiry | undefined = tail;
      while (after !== undefined && after.at > at) after = after.prev;
      if (after === undefined) {
        expiry.next = this.#head;
        (this.#head as Expiry).prev = expiry;
        this.#head = expiry;
      } else {
        expiry.next = after.next;
        expiry.prev = after;
        (after.next as Expiry).prev = expiry;
        after.next = expiry;
      }
    }
    if (at < this.#armedAt) this.#arm(at);
    return expiry;
  }

  remove(expiry: Expiry): void {
    if (expiry.lane !== this) return;
    expiry.lane = undefined;
    const { prev, next } = expiry;
    if (prev === undefined) this.#head = next;
    else prev.next = next;
    if (next === undefined) this.#tail = prev;
    else next.prev = prev;
    expiry.prev = expiry.next = undefined;
    if (this.#head === undefined && !this.#keepIdleTimer && this.#cancelTimer !== undefined) {
      this.#cancelTimer();
      this.#cancelTimer = undefined;
      this.#armedAt = Infinity;
    }
  }

  #arm(at: number): void {
    this.#cancelTimer?.();
    this.#armedAt = at;
    this.#cancelTimer = this.#clock.setTimer(Math.max(0, Math.ceil(at - this.#clock.now())), () => this.#due());
  }

  #due(): void {
    this.#armedAt = Infinity;
    this.#cancelTimer = undefined;
    const now = this.#clock.now();
    for (let head = this.#head; head !== undefined && head.at <= now; head = this.#head) {
      this.remove(head);
      head.fire();
    }
    if (this.#head !== undefined && this.#head.at < this.#armedAt) this.#arm(this.#head.at);
  }
}

const lanesByClock = new WeakMap<Clock, Map<number, DeadlineLane>>();

/**
 * Calls `fire` once `ms` milliseconds have passed on `clock`, through a timer shared by every
 * expiry of the same duration on that clock. Returns the {@link Expiry}, whose `cancel()` is
 * two pointer writes: this is how deadlines cost nothing on the success path.
 */
export function expireAfter(clock: Clock, ms: number, fire: () => void): Expiry {
  let lanes = lanesByClock.get(clock);
  if (lanes === undefined) {
    lanes = new Map();
    lanesByClock.set(clock, lanes);
  }
  const key = Math.ceil(ms);
  let lane = lanes.get(key);
  if (lane === undefined) {
    // Distinct durations are few (the configured timeouts); a stray one still gets its lane.
    if (lanes.size >= 256) lanes.clear();
    lane = new DeadlineLane(clock);
    lanes.set(key, lane);
  }
  return lane.add(clock.now() + ms, fire);
}
