/**
 * Drives the virtual clock for a simulation. At each instant that has timers due it fires
 * them, then turns the event loop until nothing is left to do at that instant: promise
 * chains, and the `setImmediate` callbacks the real code uses (RLPx batches its writes in
 * one, a peer defers its read-deadline check in one), including those that callbacks of
 * this instant scheduled. Only then does time move on — so a message is written at the
 * instant its sender decided to send it, whatever else is due next.
 * @module
 */
import { VirtualClock } from '../lib/clock.js'

const turn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve))

/** True while an Immediate is queued anywhere in this process. */
function immediatesPending(): boolean {
  return process.getActiveResourcesInfo().includes('Immediate')
}

/** See the module comment. */
export class Scheduler {
  readonly clock = new VirtualClock()
  readonly start = this.clock.now()
  /** Instants at which something happened, for the curious. */
  instants = 0

  /** Virtual ms since the simulation began. */
  get elapsed(): number {
    return this.clock.now() - this.start
  }

  /** Runs every timer due up to `time` (absolute, virtual ms), each instant to its end. */
  async runUntil(time: number): Promise<void> {
    await this.settle()
    for (;;) {
      const due = this.clock.next
      if (due === undefined || due > time) break
      if (due > this.clock.now()) this.clock.set(due)
      this.clock.fireDue()
      this.instants++
      await this.settle()
    }
    if (time > this.clock.now()) this.clock.set(time)
  }

  /** Runs for `ms` virtual milliseconds. */
  runFor(ms: number): Promise<void> {
    return this.runUntil(this.clock.now() + ms)
  }

  /** Lets everything already started at this instant finish. */
  async settle(): Promise<void> {
    do await turn()
    while (immediatesPending())
  }
}

/** The same interface over real time, for runs on real sockets: waiting is sleeping. */
export class RealTime {
  readonly start = Date.now()
  instants = 0

  get elapsed(): number {
    return Date.now() - this.start
  }

  async runUntil(time: number): Promise<void> {
    const wait = time - Date.now()
    if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait))
  }

  runFor(ms: number): Promise<void> {
    return this.runUntil(Date.now() + ms)
  }
}
