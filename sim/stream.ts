/**
 * One end of an in-memory connection with the shape of a `net.Socket` (with `Buffer` chunks,
 * the `ByteStream` that `RLPxConnection` reads and writes). Chunks travel on the virtual
 * clock with the delays of their {@link Direction}, in order; a FIN follows the data
 * written before it; `allowHalfOpen` is off, so an end that reads the remote's FIN closes,
 * as Node's sockets do. A crashed node's ends vanish: the remote sees a FIN, as it would
 * from the kernel of a killed process, and nothing reaches the dead end any more.
 *
 * The chunk type is generic: RLPx crypto runs over `Buffer` chunks, the plain connection
 * over batches of messages, with the same timing.
 * @module
 */
import type { Clock } from '../lib/clock.js'
import type { Direction } from './link.js'

/** What travels on a stream: anything with a length (bytes, or messages in a batch). */
export interface Chunk {
  readonly length: number
}

type Listener = (...args: never[]) => void

/** See the module comment. Make pairs with {@link streamPair}. */
export class MemoryStream<T extends Chunk = Buffer> {
  readonly remoteAddress: string
  readonly remotePort: number
  readonly writableLength = 0
  readonly writableNeedDrain = false
  #clock: Clock
  #out: Direction
  #merge: (chunks: T[]) => T
  #peer!: MemoryStream<T>
  #listeners = new Map<string, Listener[]>()
  #buffer: T[] = []
  #bufferedLength = 0
  #paused = true
  #corked = 0
  #corkBuffer: T[] = []
  /** Our FIN is sent: nothing more is written. */
  #writeEnded = false
  /** The remote's FIN arrived while data waited unread: taken once the data is. */
  #finWaiting = false
  #readEnded = false
  #destroyed = false
  #onGone: () => void

  constructor(init: { clock: Clock; out: Direction; merge: (chunks: T[]) => T; remoteAddress: string; remotePort: number; onGone: () => void }) {
    this.#clock = init.clock
    this.#out = init.out
    this.#merge = init.merge
    this.remoteAddress = init.remoteAddress
    this.remotePort = init.remotePort
    this.#onGone = init.onGone
  }

  /** @internal */
  link(peer: MemoryStream<T>): void {
    this.#peer = peer
  }

  /** True once closed, destroyed or crashed. */
  get destroyed(): boolean {
    return this.#destroyed
  }

  get readableLength(): number {
    return this.#bufferedLength
  }

  write(chunk: T): boolean {
    if (this.#writeEnded || this.#destroyed) return false
    if (this.#corked > 0) this.#corkBuffer.push(chunk)
    else this.#transmit(chunk)
    return true
  }

  cork(): void {
    this.#corked++
  }

  /** Writes made while corked leave as one chunk, as a corked socket sends one segment. */
  uncork(): void {
    if (this.#corked === 0 || --this.#corked > 0 || this.#corkBuffer.length === 0) return
    const chunks = this.#corkBuffer
    this.#corkBuffer = []
    this.write(chunks.length === 1 ? chunks[0]! : this.#merge(chunks))
  }

  pause(): this {
    this.#paused = true
    return this
  }

  resume(): this {
    this.#paused = false
    while (!this.#paused && !this.#destroyed && this.#buffer.length > 0) {
      const chunk = this.#buffer.shift()!
      this.#bufferedLength -= chunk.length
      this.#emit('data', chunk)
    }
    if (!this.#paused && this.#finWaiting && this.#buffer.length === 0) {
      this.#finWaiting = false
      this.#readEnd()
    }
    return this
  }

  end(): this {
    if (this.#writeEnded || this.#destroyed) return this
    if (this.#corked > 0) {
      this.#corked = 1
      this.uncork()
    }
    this.#sendFin()
    if (this.#readEnded) this.#close()
    return this
  }

  destroy(error?: Error): this {
    if (this.#destroyed) return this
    this.#sendFin()
    this.#close(error)
    return this
  }

  /** The node owning this end died: no events, no more input; the remote gets a FIN. */
  crash(): void {
    if (this.#destroyed) return
    this.#sendFin()
    this.#destroyed = true
    this.#buffer = []
    this.#bufferedLength = 0
    this.#listeners.clear()
    this.#onGone()
  }

  setNoDelay(): this {
    return this
  }

  on(event: string, listener: Listener): this {
    const list = this.#listeners.get(event)
    if (list) list.push(listener)
    else this.#listeners.set(event, [listener])
    return this
  }

  once(event: string, listener: Listener): this {
    const wrapped = ((...args: never[]) => {
      this.off(event, wrapped)
      listener(...args)
    }) as Listener
    return this.on(event, wrapped)
  }

  off(event: string, listener: Listener): this {
    const list = this.#listeners.get(event)
    const i = list ? list.indexOf(listener) : -1
    if (i >= 0) list!.splice(i, 1)
    return this
  }

  #emit(event: string, ...args: unknown[]): void {
    const list = this.#listeners.get(event)
    if (!list) return
    for (const listener of [...list]) (listener as (...a: unknown[]) => void)(...args)
  }

  #transmit(chunk: T): void {
    const peer = this.#peer
    const now = this.#clock.now()
    this.#clock.setTimeout(() => peer.#receive(chunk), this.#out.arrival(now) - now)
  }

  #sendFin(): void {
    if (this.#writeEnded) return
    this.#writeEnded = true
    const peer = this.#peer
    const now = this.#clock.now()
    this.#clock.setTimeout(() => peer.#receiveFin(), this.#out.arrival(now) - now)
  }

  #receive(chunk: T): void {
    if (this.#destroyed || this.#readEnded) return
    if (this.#paused || this.#buffer.length > 0) {
      this.#buffer.push(chunk)
      this.#bufferedLength += chunk.length
      return
    }
    this.#emit('data', chunk)
  }

  #receiveFin(): void {
    if (this.#destroyed || this.#readEnded) return
    // A paused socket with nothing buffered still ends; one with data keeps the FIN behind it.
    if (this.#buffer.length > 0) this.#finWaiting = true
    else this.#readEnd()
  }

  #readEnd(): void {
    this.#readEnded = true
    this.#emit('end')
    // allowHalfOpen is off: the remote's FIN ends our side too.
    this.end()
    this.#close()
  }

  #close(error?: Error): void {
    if (this.#destroyed) return
    this.#destroyed = true
    this.#buffer = []
    this.#bufferedLength = 0
    this.#onGone()
    // Node emits 'error' and 'close' on a later tick, never inside the call that closed.
    process.nextTick(() => {
      if (error) this.#emit('error', error)
      this.#emit('close')
      this.#listeners.clear()
    })
  }
}

/**
 * Two connected ends: `a` writes with the delays of `ab`, `b` with those of `ba`. Both use
 * `clock`, the shared virtual clock: a chunk in flight arrives whether or not its sender
 * still lives.
 */
export function streamPair<T extends Chunk>(init: {
  clock: Clock
  merge: (chunks: T[]) => T
  ab: Direction
  ba: Direction
  /** What `a` sees as the remote (b's address), and what `b` sees. */
  addressOfB: [string, number]
  addressOfA: [string, number]
  onGone: [() => void, () => void]
}): [MemoryStream<T>, MemoryStream<T>] {
  const a = new MemoryStream<T>({ clock: init.clock, out: init.ab, merge: init.merge, remoteAddress: init.addressOfB[0], remotePort: init.addressOfB[1], onGone: init.onGone[0] })
  const b = new MemoryStream<T>({ clock: init.clock, out: init.ba, merge: init.merge, remoteAddress: init.addressOfA[0], remotePort: init.addressOfA[1], onGone: init.onGone[1] })
  a.link(b)
  b.link(a)
  return [a, b]
}
