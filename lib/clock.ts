/**
 * Time as an injected dependency. Every deadline, timer and timestamp in the library goes
 * through a {@link Clock}: {@link systemClock} in production, a {@link VirtualClock} in
 * tests and in the simulator, where time moves only when the test says so. That is what
 * makes deadlines exact, timing tests deterministic and a 10,000-node simulation possible.
 * @module
 */
import { MinHeap } from './heap.js'

/** A pending timer; `unref()` lets the process exit while it waits (no-op on a virtual clock). */
export interface Timer {
  unref(): void
}

/** Where the library reads the time and sets its timers. */
export interface Clock {
  /** Milliseconds since the Unix epoch (virtual clocks start wherever they are told). */
  now(): number
  /** Runs `fn` once, `ms` milliseconds from now. */
  setTimeout(fn: () => void, ms: number): Timer
  /** Cancels a timer made by this clock's `setTimeout`; `undefined` and fired timers are ignored. */
  clearTimeout(timer: Timer | undefined): void
}

/** The real clock: `Date.now()` and Node's timers. */
export const systemClock: Clock = {
  now: () => Date.now(),
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (timer) => clearTimeout(timer as NodeJS.Timeout | undefined),
}

class VirtualTimer implements Timer {
  cancelled = false
  constructor(
    readonly due: number,
    readonly seq: number,
    readonly fn: () => void,
  ) {}
  unref(): void {}
}

/** Lets promise callbacks and already-arrived I/O run before the next timer fires. */
const turn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve))

/**
 * A clock whose time stands still until {@link advance} moves it. Timers fire in order of
 * due time, ties in the order they were set, and after each instant the event loop turns
 * once, so promise chains and socket callbacks that the timers started run before the next
 * instant. Deterministic when nothing outside the clock (real sockets) feeds the program.
 */
export class VirtualClock implements Clock {
  #now: number
  #seq = 0
  #heap = new MinHeap<VirtualTimer>((a, b) => a.due < b.due || (a.due === b.due && a.seq < b.seq))
  #live = 0

  /** @param start the initial time in ms since the epoch; fixed by default so runs repeat. */
  constructor(start = Date.UTC(2026, 0, 1)) {
    this.#now = start
  }

  now(): number {
    return this.#now
  }

  setTimeout(fn: () => void, ms: number): Timer {
    const delay = Number.isFinite(ms) && ms > 0 ? ms : 0
    const timer = new VirtualTimer(this.#now + delay, this.#seq++, fn)
    this.#heap.push(timer)
    this.#live++
    return timer
  }

  clearTimeout(timer: Timer | undefined): void {
    if (!(timer instanceof VirtualTimer) || timer.cancelled) return
    timer.cancelled = true
    this.#live--
  }

  /** Timers set and not yet fired or cleared. */
  get pending(): number {
    return this.#live
  }

  /** Due time of the next live timer, or `undefined` when none is set. */
  get next(): number | undefined {
    this.#dropCancelled()
    return this.#heap.peek()?.due
  }

  /**
   * Moves time forward by `ms`, firing every timer that falls due on the way at its own
   * instant (timers set meanwhile included), then lets the event loop turn once more.
   */
  async advance(ms: number): Promise<void> {
    await this.runUntil(this.#now + ms)
  }

  /** Moves time to `time`, as {@link advance} does. */
  async runUntil(time: number): Promise<void> {
    await turn()
    for (;;) {
      const due = this.next
      if (due === undefined || due > time) break
      this.#now = Math.max(this.#now, due)
      this.fireDue()
      await turn()
    }
    this.#now = Math.max(this.#now, time)
  }

  /**
   * Fires every timer due at or before the current time, without turning the event loop:
   * for a driver (the simulator) that turns it itself. Returns how many fired.
   */
  fireDue(): number {
    let fired = 0
    for (;;) {
      this.#dropCancelled()
      const top = this.#heap.peek()
      if (!top || top.due > this.#now) return fired
      this.#heap.pop()
      top.cancelled = true
      this.#live--
      fired++
      top.fn()
    }
  }

  /** Sets the time to `time` without firing anything; for a driver that fires with {@link fireDue}. */
  set(time: number): void {
    if (time < this.#now) throw new RangeError(`virtual time cannot go back from ${this.#now} to ${time}`)
    this.#now = time
  }

  #dropCancelled(): void {
    while (this.#heap.peek()?.cancelled) this.#heap.pop()
  }
}
