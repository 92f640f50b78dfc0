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

/** The end of an iteration; one object serves every queue. */
const DONE: IteratorReturnResult<undefined> = Object.freeze({ value: undefined, done: true })
const asResult = (value: Msg): IteratorResult<Msg> => ({ value, done: false })
/** `readMsg` rejects only with the closing error, which ends a loop quietly. */
const asEnd = (): IteratorResult<Msg> => DONE

/**
 * One protocol's unread messages on one peer, with the readers waiting for them. It is its
 * own async iterator: one lives per protocol per peer for the whole session, so the loop
 * that reads it allocates no iterator object or closures of its own.
 */
export class MsgQueue implements AsyncIterableIterator<Msg> {
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
    const msg = this.#take()
    if (msg) return Promise.resolve(msg)
    if (this.#error) return Promise.reject(this.#error)
    return new Promise((resolve, reject) => this.#waiters.push({ resolve, reject }))
  }

  /**
   * The next message; once the queue is closed, the end. Chained on `readMsg` with shared
   * callbacks: no closure per read, and a message reaches a loop in the same number of steps
   * as a `readMsg` caller's, so the order in which peers' messages are handled stays the same.
   */
  next(): Promise<IteratorResult<Msg>> {
    return this.readMsg().then(asResult, asEnd)
  }

  /** Leaving a loop early leaves the queue as it is. */
  return(): Promise<IteratorResult<Msg>> {
    return Promise.resolve(DONE)
  }

  [Symbol.asyncIterator](): this {
    return this
  }

  /** Fails pending and future reads with `error`; queued messages are dropped. */
  close(error: Error): void {
    if (this.#error) return
    this.#error = error
    this.#items = []
    this.#bytes = 0
    for (const waiter of this.#waiters.splice(0)) waiter.reject(error)
  }

  #take(): Msg | undefined {
    const msg = this.#items.shift()
    if (!msg) return undefined
    this.#bytes -= msg.size
    if (this.#full && this.#items.length <= this.#limit / 2 && this.#bytes <= READ_QUEUE_BYTES / 2) {
      this.#full = false
      this.#onDrain()
    }
    return msg
  }
}
