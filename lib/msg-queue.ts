/**
 * The bounded inbox of one protocol on one peer. `push` reports when the bound is reached
 * so the peer can stop reading the socket; `onDrain` fires when a reader makes room.
 * @module
 */
import type { Msg } from './message.js'

/** Messages a protocol may leave unread before its peer stops reading the socket. */
export const DEFAULT_READ_QUEUE = 64

export class MsgQueue implements AsyncIterable<Msg> {
  #items: Msg[] = []
  #waiters: { resolve(msg: Msg): void; reject(err: Error): void }[] = []
  #error: Error | undefined
  #limit: number
  #onDrain: () => void

  constructor(limit: number, onDrain: () => void) {
    this.#limit = limit
    this.#onDrain = onDrain
  }

  /** Queues `msg`; returns false once the queue holds `limit` messages. */
  push(msg: Msg): boolean {
    const waiter = this.#waiters.shift()
    if (waiter) {
      waiter.resolve(msg)
      return true
    }
    this.#items.push(msg)
    return this.#items.length < this.#limit
  }

  get length(): number {
    return this.#items.length
  }

  readMsg(): Promise<Msg> {
    const msg = this.#items.shift()
    if (msg) {
      if (this.#items.length === this.#limit - 1) this.#onDrain()
      return Promise.resolve(msg)
    }
    if (this.#error) return Promise.reject(this.#error)
    return new Promise((resolve, reject) => this.#waiters.push({ resolve, reject }))
  }

  /** Fails pending and future reads with `error`; queued messages are dropped. */
  close(error: Error): void {
    if (this.#error) return
    this.#error = error
    this.#items = []
    for (const waiter of this.#waiters.splice(0)) waiter.reject(error)
  }

  get closed(): boolean {
    return this.#error !== undefined
  }

  /** Iterates until the queue is closed; the closing error ends the loop quietly. */
  [Symbol.asyncIterator](): AsyncIterator<Msg> {
    // A plain iterator rather than an async generator: one lives per protocol per peer, and
    // a suspended generator costs several times its size.
    const done: IteratorReturnResult<undefined> = { value: undefined, done: true }
    return {
      next: () =>
        this.readMsg().then(
          (value): IteratorResult<Msg> => ({ value, done: false }),
          (err: unknown) => {
            if (err === this.#error) return done
            throw err
          },
        ),
      return: () => Promise.resolve(done),
    }
  }
}
