/**
 * The flooding engine: deliver each message once, relay it to every neighbour but the one
 * it came from, and bound everything a neighbour can grow — seen-cache, receive buffer,
 * per-neighbour relay rate and per-neighbour send backlog. Used by floodnet and by chat.
 * @module
 */
import { randomBytes } from 'node:crypto'
import { RLP } from '@ethereumjs/rlp'
import { systemClock, type Clock } from '../../lib/clock.js'
import { MessageDecodeError, ServerStateError, TypedEvents, uint } from '../../lib/index.js'
import { logger, shortId } from '../../lib/log.js'
import { decodeRlp, FIXED_SHAPE_MAX_ITEMS } from '../../lib/rlp.js'
import { MAX_BACKLOG_BYTES, MAX_HOPS, MAX_OUTSTANDING_SENDS, MAX_PAYLOAD, RATE_LIMIT, RECEIVE_BUFFER, RECEIVE_BUFFER_BYTES, SEEN_CACHE_SIZE, SEEN_TTL } from './constants.js'
import { SeenCache } from './seen-cache.js'
import { TokenBucket } from './token-bucket.js'

const log = logger('floodnet:relay')

/** A broadcast as delivered to the application. */
export interface Delivery {
  /** Message id, hex. */
  id: string
  /** Node id (hex) of the node that wrote it. */
  origin: string
  payload: Uint8Array
  /** Node id of the neighbour it arrived from. */
  from: string
  /** Hops it travelled to reach us. */
  hops: number
  receivedAt: number
}

/**
 * Why a message was not delivered or relayed. `hop-limit`: it arrived with no hops left (or
 * more than `maxHops`) and was dropped. `last-hop`: it was delivered with one hop left, so
 * the neighbours beyond were not relayed it — the mesh is deeper than `maxHops` there.
 */
export type DropReason = 'receive-buffer-full' | 'rate-limited' | 'invalid' | 'hop-limit' | 'last-hop' | 'send-backlog' | 'not-neighbour'

/** Events on `engine.events`. */
export interface FloodEvents {
  /** A message was dropped; `id` is absent when it could not be decoded. */
  drop: (event: { reason: DropReason; id?: string; origin?: string; from?: string }) => void
  /** A new message was accepted (before it is read). */
  message: (delivery: Delivery) => void
}

/** Decides whether a message is delivered and relayed; return false (or throw) to refuse it. */
export type Validator = (message: { id: string; origin: string; payload: Uint8Array; from: string }) => boolean

/** Options of a {@link FloodEngine}. */
export interface FloodEngineOptions {
  /** Hex id of this node (so its own messages are never delivered back to it). */
  selfId: string
  /** Hops a message may travel. @default 32 */
  maxHops?: number
  /** Seen-cache bound in entries. @default 32768 */
  seenCacheSize?: number
  /** Seen-cache age bound in ms, refreshed on re-sighting. @default 120000 */
  seenTtl?: number
  /** Undelivered messages kept; the oldest is dropped beyond this. @default 512 */
  receiveBuffer?: number
  /** Per-neighbour relay limit: `rate` messages/s, bursts of `burst`. @default { rate: 200, burst: 400 } */
  rateLimit?: { rate: number; burst: number }
  /** Largest payload accepted or written, bytes. @default 262144 */
  maxPayload?: number
  /** Validation before delivery and relay. @default accept everything */
  validate?: Validator
  /** Id of a new message; chat binds it to the content. @default 16 random bytes */
  messageId?: (payload: Uint8Array) => Uint8Array
  /** Where time is read (seen-cache ages, rate limits, receive times). @default the server's clock, else systemClock */
  clock?: Clock
}

interface Neighbour {
  send(payload: Uint8Array): Promise<void>
  bucket: TokenBucket
  /** Relays handed to `send` and not yet settled: how many, and their bytes. */
  outstanding: number
  outstandingBytes: number
}

/** Counters, for tests, the simulator and logs. */
export interface FloodStats {
  /** Wire transmissions: every copy written to a neighbour, own messages and relays. */
  sent: number
  published: number
  delivered: number
  duplicates: number
  relayed: number
  dropped: Record<DropReason, number>
}

/**
 * Floods messages over a set of neighbours; see the module comment. Read deliveries with
 * `read()` or `for await`, watch drops on `events`.
 */
export class FloodEngine implements AsyncIterable<Delivery> {
  readonly events = new TypedEvents<FloodEvents>()
  readonly stats: FloodStats = {
    sent: 0,
    published: 0,
    delivered: 0,
    duplicates: 0,
    relayed: 0,
    dropped: { 'receive-buffer-full': 0, 'rate-limited': 0, invalid: 0, 'hop-limit': 0, 'last-hop': 0, 'send-backlog': 0, 'not-neighbour': 0 },
  }
  readonly seen: SeenCache
  readonly receiveBuffer: number
  #selfId: string
  #maxHops: number
  #maxPayload: number
  #rate: { rate: number; burst: number }
  #validate: Validator | undefined
  #messageId: (payload: Uint8Array) => Uint8Array
  #neighbours = new Map<string, Neighbour>()
  #inbox: Delivery[] = []
  #inboxBytes = 0
  #readers: ((d: Delivery | undefined) => void)[] = []
  #closed = false
  #clock: Clock

  constructor(options: FloodEngineOptions) {
    this.#selfId = options.selfId
    this.#maxHops = options.maxHops ?? MAX_HOPS
    this.#maxPayload = options.maxPayload ?? MAX_PAYLOAD
    this.#rate = options.rateLimit ?? RATE_LIMIT
    this.#validate = options.validate
    this.#messageId = options.messageId ?? (() => randomBytes(16))
    this.#clock = options.clock ?? systemClock
    const now = (): number => this.#clock.now()
    this.seen = new SeenCache(options.seenCacheSize ?? SEEN_CACHE_SIZE, options.seenTtl ?? SEEN_TTL, now)
    this.receiveBuffer = options.receiveBuffer ?? RECEIVE_BUFFER
  }

  /** Undelivered messages currently buffered. */
  get buffered(): number {
    return this.#inbox.length
  }

  /** Bytes of relays to neighbour `id` not yet taken by its connection (bounded by 1 MiB). */
  backlog(id: string): number {
    return this.#neighbours.get(id)?.outstandingBytes ?? 0
  }

  /** Ids of the current neighbours. */
  get neighbours(): string[] {
    return [...this.#neighbours.keys()]
  }

  /**
   * Starts flooding to `id`; `send` writes one encoded flood message to it. Returns the
   * function that removes this neighbour again — and only this one, should a newer
   * connection to the same node have replaced it meanwhile.
   */
  addNeighbour(id: string, send: (payload: Uint8Array) => Promise<void>): () => void {
    const entry: Neighbour = { send, bucket: new TokenBucket(this.#rate.rate, this.#rate.burst, () => this.#clock.now()), outstanding: 0, outstandingBytes: 0 }
    this.#neighbours.set(id, entry)
    return () => {
      if (this.#neighbours.get(id) === entry) this.#neighbours.delete(id)
    }
  }

  /**
   * Floods `payload` to every neighbour; returns the message id (hex).
   * @throws {RangeError} when the payload exceeds `maxPayload`
   * @throws {ServerStateError} once the engine is closed
   */
  publish(payload: Uint8Array): string {
    if (this.#closed) throw new ServerStateError('the flood engine is closed; nothing more is sent')
    if (payload.length > this.#maxPayload) throw new RangeError(`payload of ${payload.length} bytes exceeds maxPayload (${this.#maxPayload})`)
    const id = this.#messageId(payload)
    const idHex = Buffer.from(id).toString('hex')
    this.seen.seen(idHex)
    this.stats.published++
    const wire = RLP.encode([id, Buffer.from(this.#selfId, 'hex'), this.#maxHops, payload])
    for (const [nid] of this.#neighbours) this.#sendTo(nid, wire)
    return idHex
  }

  /**
   * Handles an encoded flood message from neighbour `from`.
   * @throws {MessageDecodeError} when it is malformed (the caller drops that neighbour)
   */
  handle(from: string, wire: Uint8Array): void {
    if (this.#closed) return
    const neighbour = this.#neighbours.get(from)
    if (neighbour && !neighbour.bucket.take()) {
      this.#drop({ reason: 'rate-limited', from })
      return
    }
    const { id, origin, hopsLeft, payload } = decodeFlood(wire, this.#maxPayload)
    const idHex = id.toString('hex')
    if (this.seen.has(idHex)) {
      this.seen.seen(idHex)
      this.stats.duplicates++
      return
    }
    const originHex = origin.toString('hex')
    if (originHex === this.#selfId) return
    if (hopsLeft > this.#maxHops || hopsLeft < 1) {
      this.#drop({ reason: 'hop-limit', id: idHex, origin: originHex, from })
      return
    }
    let valid: boolean
    try {
      valid = this.#validate ? this.#validate({ id: idHex, origin: originHex, payload, from }) : true
    } catch (err) {
      log('validator threw on %s from %s: %s', shortId(idHex), shortId(from), (err as Error).message)
      valid = false
    }
    if (!valid) {
      this.#drop({ reason: 'invalid', id: idHex, origin: originHex, from })
      return
    }
    // Marked seen only once valid: a forged copy sent ahead of the real message under its
    // id must not make the real one look like a duplicate.
    this.seen.seen(idHex)
    this.#deliver({ id: idHex, origin: originHex, payload, from, hops: this.#maxHops - hopsLeft + 1, receivedAt: this.#clock.now() })
    let wireOut: Uint8Array | undefined
    for (const [nid] of this.#neighbours) {
      if (nid === from || nid === originHex) continue
      if (hopsLeft <= 1) {
        // Delivered here, but the neighbours beyond cannot be reached within the hop limit:
        // say so once per message, or a mesh deeper than maxHops loses nodes silently.
        this.#drop({ reason: 'last-hop', id: idHex, origin: originHex, from })
        return
      }
      wireOut ??= RLP.encode([id, origin, hopsLeft - 1, payload])
      this.#sendTo(nid, wireOut)
      this.stats.relayed++
    }
  }

  /** Counts and reports a flood message refused unread because its sender is not a neighbour (`not-neighbour`). */
  refuse(from: string): void {
    this.#drop({ reason: 'not-neighbour', from })
  }

  /** The next delivered message; resolves `undefined` once the engine is closed. */
  read(): Promise<Delivery | undefined> {
    const next = this.#inbox.shift()
    if (next) this.#inboxBytes -= next.payload.length
    if (next || this.#closed) return Promise.resolve(next)
    return new Promise((resolve) => this.#readers.push(resolve))
  }

  async *[Symbol.asyncIterator](): AsyncIterator<Delivery> {
    for (;;) {
      const d = await this.read()
      if (!d) return
      yield d
    }
  }

  /** Stops: nothing more is delivered, relayed or published; pending and later reads resolve `undefined`. */
  close(): void {
    this.#closed = true
    for (const reader of this.#readers.splice(0)) reader(undefined)
  }

  #deliver(d: Delivery): void {
    this.stats.delivered++
    this.events.emit('message', d)
    const reader = this.#readers.shift()
    if (reader) {
      reader(d)
      return
    }
    this.#inbox.push(d)
    this.#inboxBytes += d.payload.length
    while (this.#inbox.length > this.receiveBuffer || this.#inboxBytes > RECEIVE_BUFFER_BYTES) {
      const oldest = this.#inbox.shift()!
      this.#inboxBytes -= oldest.payload.length
      this.#drop({ reason: 'receive-buffer-full', id: oldest.id, origin: oldest.origin, from: oldest.from })
    }
  }

  #sendTo(id: string, wire: Uint8Array): void {
    const n = this.#neighbours.get(id)!
    if (n.outstanding >= MAX_OUTSTANDING_SENDS || n.outstandingBytes + wire.length > MAX_BACKLOG_BYTES) {
      this.#drop({ reason: 'send-backlog', from: id })
      return
    }
    n.outstanding++
    n.outstandingBytes += wire.length
    this.stats.sent++
    const settled = (): void => {
      n.outstanding--
      n.outstandingBytes -= wire.length
    }
    n.send(wire).then(settled, (err: Error) => {
      settled()
      log('send to %s failed: %s', shortId(id), err.message)
    })
  }

  #drop(event: { reason: DropReason; id?: string; origin?: string; from?: string }): void {
    this.stats.dropped[event.reason]++
    log('dropped %s from %s: %s', event.id ? shortId(event.id) : '-', shortId(event.from), event.reason)
    this.events.emit('drop', event)
  }
}

/** Wire form of a flood message: `[id, origin, hopsLeft, payload]`. */
export function decodeFlood(wire: Uint8Array, maxPayload: number): { id: Buffer; origin: Buffer; hopsLeft: number; payload: Uint8Array } {
  let list: unknown
  try {
    list = decodeRlp(wire, { maxItems: FIXED_SHAPE_MAX_ITEMS })
  } catch (err) {
    throw new MessageDecodeError(`flood message is not valid RLP: ${(err as Error).message}`)
  }
  if (!Array.isArray(list) || list.length < 4) throw new MessageDecodeError('flood message must be [id, origin, hops, payload]')
  const [id, origin, hops, payload] = list
  if (!(id instanceof Uint8Array) || id.length < 8 || id.length > 32) throw new MessageDecodeError('flood message id must be 8-32 bytes')
  if (!(origin instanceof Uint8Array) || origin.length !== 32) throw new MessageDecodeError('flood message origin must be a 32-byte node id')
  const hopsLeft = uint(hops, 'flood message hops', 1)
  if (!(payload instanceof Uint8Array) || payload.length > maxPayload) throw new MessageDecodeError(`flood payload must be bytes of at most ${maxPayload}`)
  return { id: Buffer.from(id), origin: Buffer.from(origin), hopsLeft, payload }
}
