/**
 * The bounded inbox of one protocol on one peer. `push` reports when the bound is reached
 * so the peer can stop reading the socket; `onDrain` fires once a reader has emptied it to
 * half the bound — a gap between the two marks, so a busy reader does not pause and resume
 * the socket once per message.
 * @module
 */
import type { Msg } from './message.js'

/** Messages a protocol may leave unread before its peer stops reading the socket. */
export const DEFAULT_READ_QUEUE = 64
/** Payload bytes a protocol may leave unread before its peer stops reading the socket. */
export const READ_QUEUE_BYTES = 16 * 1024 * 1024

/** One protocol's unread messages on one peer, with the readers waiting for them. */
export class MsgQueue implements AsyncIterable<Msg> {
  #items: Msg[] = []
  #waiters: { resolve(msg: Msg): void; reject(err: Error): void }[] = []
  #error: Error | undefined
  #bytes = 0
  #limit: number
  #onDrain: () => void
  /** Set on reaching the bound, cleared at half of it. */
  #full = false

  constructor(limit: number, onDrain: () => void) {
    this.#limit = limit
    this.#onDrain = onDrain
  }

  /** Queues `msg`; returns false once the queue is {@link full}. */
  push(msg: Msg): boolean {
    const waiter = this.#waiters.shift()
    if (waiter) {
      waiter.resolve(msg)
      return true
    }
    this.#items.push(msg)
    this.#bytes += msg.size
    if (this.#items.length >= this.#limit || this.#bytes >= READ_QUEUE_BYTES) this.#full = true
    return !this.#full
  }

  /**
   * True from reaching `limit` unread messages or {@link READ_QUEUE_BYTES} unread bytes,
   * whichever comes first, until reads bring both down to half.
   */
  get full(): boolean {
    return this.#full
  }

  readMsg(): Promise<Msg> {
    const msg = this.#items.shift()
    if (msg) {
      this.#bytes -= msg.size
      if (this.#full && this.#items.length <= this.#limit / 2 && this.#bytes <= READ_QUEUE_BYTES / 2) {
        this.#full = false
        this.#onDrain()
      }
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
    this.#bytes = 0
    for (const waiter of this.#waiters.splice(0)) waiter.reject(error)
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
