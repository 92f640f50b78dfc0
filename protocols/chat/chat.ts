/**
 * chat/2: a chat on floodnet's flooding engine. Every message is a signed envelope
 * ({@link decodeEnvelope}) that each node verifies before it delivers or relays it; a replay
 * guard keyed by message id makes sure nothing is delivered twice within its validity
 * window. On top of that: presence (a roster of members with last-seen), direct messages
 * sealed to any member or neighbour with signed delivery receipts, and history and roster
 * requests a joining node makes to its neighbours ({@link ChatMsg}).
 * @module
 */
import { isIP } from 'node:net'
import { ServerStateError, TypedEvents, MessageDecodeError, nodeId, parseEnode, publicKeyOf, type Msg, type MsgReadWriter, type Protocol } from '../../lib/index.js'
import { systemClock, type Clock, type Timer } from '../../lib/clock.js'
import { Devp2pError, InvalidOptionError } from '../../lib/errors.js'
import { logger, shortId } from '../../lib/log.js'
import type { Random } from '../../lib/random.js'
import { FloodEngine, TokenBucket, type FloodEngineOptions } from '../floodnet/index.js'
import {
  CLOCK_WINDOW,
  HISTORY_AGE,
  HISTORY_ASK_WINDOW,
  HISTORY_COUNT,
  MAX_ENVELOPE,
  MAX_PENDING_RECEIPTS,
  ORIGIN_RATE,
  PRESENCE_INTERVAL,
  PRESENCE_JITTER,
  RATE_TABLE_SIZE,
  RECEIPT_TIMEOUT,
  REPLAY_GUARD_SIZE,
  ROSTER_SIZE,
  ROSTER_SYNC_MAX,
  SYNC_RATE,
  SYNC_TIMEOUT,
} from './constants.js'
import { HistoryStore } from './history.js'
import {
  ChatKind,
  decodeEnvelope,
  DirectKind,
  encodeBroadcast,
  encodeDirect,
  encodeGoodbye,
  encodePresence,
  encodeReceipt,
  openDirect,
  type BroadcastEnvelope,
  type DirectEnvelope,
  type Envelope,
  type PresenceEnvelope,
} from './message.js'
import { checkNick } from './nick.js'
import { ReplayGuard } from './replay-guard.js'
import { refreshPeriod, Roster, type Member, type RosterChange } from './roster.js'
import { CHAT_CODES, ChatMsg, decodeRequest, decodeResponse, encodeRequest, encodeResponse } from './sync.js'

const log = logger('chat')

/** Options of {@link Chat}; the flood engine's options apply too. */
export interface ChatOptions extends Omit<FloodEngineOptions, 'selfId' | 'validate' | 'messageId'> {
  /** The node's private key: it signs our messages and opens direct ones. Use the server's. */
  privateKey: Uint8Array
  /** Our nick; see {@link checkNick}. @default 'anon' */
  nick?: string
  /** Accepted distance between a live message's timestamp and our clock, ms. @default 300000 */
  clockWindow?: number
  /** Where time and timers come from. @default systemClock */
  clock?: Clock
  /** Jitter of presence refreshes. @default Math.random */
  random?: Random
  /** Presence refresh period in a room of up to 30 members, ms; it grows with larger rooms. @default 300000 */
  presenceInterval?: number
  /** How long a direct message waits for its receipt, ms. @default 30000 */
  receiptTimeout?: number
  /** Message ids the replay guard holds. @default 32768 */
  replayGuardSize?: number
  /** Members the roster holds. @default 4096 */
  rosterSize?: number
  /** Broadcasts kept for late joiners. @default 100 */
  historyCount?: number
  /** Oldest broadcast kept for late joiners, ms. @default 3600000 */
  historyAge?: number
  /**
   * The overlay whose links chat floods over — pass the {@link Floodnet} beside it. Peers that
   * speak chat but are not its neighbours (a peer the server dialled from discovery, say)
   * still answer roster and history requests, but carry no broadcasts, so each link has one
   * owner and the flooding cost stays that of the overlay. @default every chat peer floods
   */
  overlay?: Overlay
}

/** The links chat floods over: a {@link Floodnet} has this shape. */
export interface Overlay {
  readonly neighbours: readonly string[]
  readonly events: {
    on(event: 'neighbour:added' | 'neighbour:removed', listener: (id: string) => void): () => void
  }
}

/** What chat needs of the server it runs on; a {@link Server} has it. */
export interface ChatHost {
  /** Our node id: must be the id of chat's key. */
  readonly id: string
  /** Our enode URL: its address goes into our presence announcements. */
  readonly enode: string
}

/** The peer a chat link runs with; a {@link Peer} has it. */
export interface ChatPeer {
  readonly id: string
  /** The key its handshake proved: direct messages to a neighbour are sealed to it. */
  readonly publicKey: Buffer
}

/** A verified broadcast, direct message or history entry. */
export interface ChatMessage {
  /** Message id, hex (16 bytes): the same at every node. */
  id: string
  kind: ChatKind.Broadcast | ChatKind.Direct
  /** Node id (hex) of the author, proven by the signature. */
  origin: string
  /** The author's 64-byte public key, recovered from the signature. */
  originKey: Buffer
  nick: string
  text: string
  /** Author's clock, ms since the epoch. */
  timestamp: number
  /** For direct messages: our node id. */
  recipient?: string
}

/** The outcome of a direct message we sent. */
export interface Receipt {
  /** Id of the direct message, as {@link Chat.sendDirect} returned it. */
  id: string
  /** Node id of the recipient. */
  to: string
  /** The recipient's nick when we sent it. */
  nick: string
  /** `delivered`: the recipient returned a signed receipt; `not-confirmed`: none came in time. */
  status: 'delivered' | 'not-confirmed'
}

/** Someone we can send a direct message to: a member or a direct neighbour. */
export interface Recipient {
  id: string
  publicKey: Buffer
  /** Its nick, when it has announced one. */
  nick?: string
}

/** Counters, for tests and logs. */
export interface ChatStats {
  /** Envelopes refused: malformed, forged, outside the clock window, over the author's rate. */
  rejected: number
  /** Envelopes whose id the replay guard already held. */
  replays: number
  /** Envelopes that expire at or before the replay guard's watermark (refused under pressure). */
  stale: number
}

/** Events on `chat.events`. */
export interface ChatEvents {
  /** A verified broadcast from another node. */
  message: (message: ChatMessage) => void
  /** A verified direct message addressed to us. */
  direct: (message: ChatMessage) => void
  /** A broadcast from before we joined, from a neighbour's history; oldest first. */
  history: (message: ChatMessage) => void
  /** A direct message we sent was delivered, or was not confirmed in time. */
  receipt: (receipt: Receipt) => void
  /** A member joined the chat, or came back after leaving or timing out. */
  join: (event: { member: Member; returning: boolean }) => void
  /** A member said goodbye (`quit`) or was not heard from for too long (`timeout`). */
  leave: (event: { member: Member; reason: 'quit' | 'timeout' }) => void
  /** A member changed its nick. */
  rename: (event: { member: Member; from: string }) => void
  /** A neighbour answered our roster or history request; `count` entries were new to us. */
  synced: (event: { kind: 'roster' | 'history'; from: string; count: number }) => void
  /** An envelope failed verification and was dropped. */
  rejected: (event: { from: string; reason: string }) => void
}

/** A direct-message target could not be resolved. */
export class UnknownRecipientError extends Devp2pError {
  constructor(target: string, detail: string) {
    super('ERR_UNKNOWN_RECIPIENT', `cannot send to ${JSON.stringify(target)}: ${detail}`)
  }
}

interface Request {
  id: number
  code: ChatMsg.GetHistory | ChatMsg.GetRoster
  timer: Timer
  done: () => void
}

interface Link {
  peer: ChatPeer
  rw: MsgReadWriter
  /** Our requests to it awaiting an answer, by request id. */
  requests: Map<number, Request>
  historyRate: TokenBucket
  rosterRate: TokenBucket
}

interface Pending {
  to: string
  nick: string
  timer: Timer
}

/**
 * A chat participant. Register `chat.protocol` beside floodnet's, then `attach` the server:
 * ```ts
 * const chat = new Chat({ privateKey, nick: 'ann' })
 * const server = new Server({ privateKey, protocols: [net.protocol, chat.protocol] })
 * chat.attach(server)
 * chat.events.on('message', (m) => console.log(`<${m.nick}> ${m.text}`))
 * chat.send('hello')
 * ```
 */
export class Chat {
  readonly events = new TypedEvents<ChatEvents>()
  /** The capability to register with the server: `chat/2`, five message codes. */
  readonly protocol: Protocol
  readonly stats: ChatStats = { rejected: 0, replays: 0, stale: 0 }
  /** Ids of messages delivered or sent, held until their validity window ends. */
  readonly guard: ReplayGuard
  readonly roster: Roster
  readonly history: HistoryStore
  #nick: string
  #privateKey: Uint8Array
  #selfId: string
  #options: ChatOptions
  #clock: Clock
  #random: Random
  #window: number
  #presenceInterval: number
  #receiptTimeout: number
  #engine: FloodEngine | undefined
  #host: ChatHost | undefined
  #links = new Map<string, Link>()
  /** Links broadcasts flood over, with the function that takes each off the engine again. */
  #flooding = new Map<string, () => void>()
  #pending = new Map<string, Pending>()
  #rates = new Map<string, TokenBucket>()
  /** Envelopes verified by the validator, so delivery does not decode and recover again. */
  #verified = new WeakMap<Uint8Array, Envelope>()
  #announced = false
  /** Refresh period declared in our newest announcement: our next message must come within it. */
  #declared = 0
  /** Timestamp of our newest announcement. */
  #presenceStamp = 0
  #refreshTimer: Timer | undefined
  #expiryTimer: Timer | undefined
  #expiryAt: number | undefined
  #attachedAt = 0
  #historyFilled = false
  #nextRequest = 1
  #stopped = false

  constructor(options: ChatOptions) {
    this.#options = options
    this.#privateKey = options.privateKey
    this.#selfId = nodeId(publicKeyOf(options.privateKey))
    this.#nick = checkNick(options.nick ?? 'anon')
    this.#clock = options.clock ?? systemClock
    this.#random = options.random ?? Math.random
    this.#window = positive(options.clockWindow ?? CLOCK_WINDOW, 'clockWindow')
    this.#presenceInterval = positive(options.presenceInterval ?? PRESENCE_INTERVAL, 'presenceInterval')
    this.#receiptTimeout = positive(options.receiptTimeout ?? RECEIPT_TIMEOUT, 'receiptTimeout')
    this.guard = new ReplayGuard(positive(options.replayGuardSize ?? REPLAY_GUARD_SIZE, 'replayGuardSize'))
    this.roster = new Roster(positive(options.rosterSize ?? ROSTER_SIZE, 'rosterSize'), this.#presenceInterval * (1 + PRESENCE_JITTER))
    this.history = new HistoryStore(positive(options.historyCount ?? HISTORY_COUNT, 'historyCount'), positive(options.historyAge ?? HISTORY_AGE, 'historyAge'))
    this.protocol = { name: 'chat', version: 2, length: CHAT_CODES, run: (peer, rw) => this.#run(peer, rw) }
  }

  /**
   * Binds to the server (anything with its `id` and `enode`); its key must be this chat's key.
   * @throws {InvalidOptionError} when the server's key is another one
   */
  attach(host: ChatHost): void {
    if (this.#host) throw new ServerStateError('chat is already attached to a server')
    // Receivers refuse a message whose flood origin (the server's id) is not its signer, so
    // a mismatched key would make every message we send vanish without a trace.
    if (this.#selfId !== host.id) throw new InvalidOptionError('privateKey', "chat's key must be the server's key")
    this.#host = host
    this.#attachedAt = this.#now()
    this.#engine = new FloodEngine({
      ...this.#options,
      maxPayload: MAX_ENVELOPE,
      selfId: host.id,
      messageId: (payload) => Buffer.from(decodeEnvelope(payload).id, 'hex'),
      validate: ({ id, origin, payload, from }) => this.#validate(id, origin, payload, from),
    })
    this.roster.setSelf(decodeEnvelope(this.#presence()) as PresenceEnvelope, this.#attachedAt)
    const overlay = this.#options.overlay
    if (overlay) {
      overlay.events.on('neighbour:added', (id) => this.#flood(id))
      overlay.events.on('neighbour:removed', (id) => this.#unflood(id))
    }
    void this.#pump()
  }

  /** Starts flooding over the link to `id`, when chat runs on it and it is an overlay link. */
  #flood(id: string): void {
    const link = this.#links.get(id)
    const overlay = this.#options.overlay
    if (!link || this.#flooding.has(id) || (overlay && !overlay.neighbours.includes(id))) return
    this.#flooding.set(id, this.engine.addNeighbour(id, (payload) => link.rw.writeMsg(ChatMsg.Flood, payload)))
    // We announce ourselves once a broadcast can leave, on the first link that floods.
    if (!this.#announced && !this.#stopped) this.#announce()
    this.#askHistory(link)
  }

  /**
   * Asks a link that floods for the history, while we still want it. Only such links: what
   * was said before the link is in the answer, what is said after floods to us over it, so
   * nothing falls in between (a contact that does not flood could answer, and the lines said
   * until we are in the overlay would be lost to us).
   */
  #askHistory(link: Link): void {
    if (!this.#stopped && !this.#historyFilled && this.#now() < this.#attachedAt + HISTORY_ASK_WINDOW) void this.#request(link, ChatMsg.GetHistory)
  }

  #unflood(id: string): void {
    this.#flooding.get(id)?.()
    this.#flooding.delete(id)
  }

  /** The flooding engine behind chat (counters, seen-cache). */
  get engine(): FloodEngine {
    if (!this.#engine) throw new ServerStateError('chat is not attached: call attach(server) first')
    return this.#engine
  }

  /** Our node id. */
  get id(): string {
    return this.#selfId
  }

  get nick(): string {
    return this.#nick
  }

  /**
   * Changes our nick and announces it ("ann is now anna" everywhere).
   * @throws {InvalidNickError} when it breaks the nick rules
   */
  set nick(nick: string) {
    checkNick(nick)
    if (nick === this.#nick) return
    this.#nick = nick
    if (this.#announced) this.#announce()
    else if (this.#host) this.roster.setSelf(decodeEnvelope(this.#presence()) as PresenceEnvelope, this.#now())
  }

  /** Present members, us included, most recently heard first. */
  get members(): Member[] {
    return this.roster.present()
  }

  /** Direct neighbours broadcasts flood over: id, the key their handshake proved, and their nick once known. */
  get neighbours(): Recipient[] {
    return [...this.#flooding.keys()].map((id) => {
      const { peer } = this.#links.get(id)!
      return { id, publicKey: peer.publicKey, ...this.#nickOf(id) }
    })
  }

  /** The current presence refresh period: the base period, longer in rooms of more than 30. */
  get presencePeriod(): number {
    return refreshPeriod(this.roster.present().length, this.#presenceInterval)
  }

  /**
   * Broadcasts `text` to everyone; returns the message id.
   * @throws {RangeError} when the text is over 2 KiB
   */
  send(text: string): string {
    const now = this.#now()
    const payload = encodeBroadcast(this.#privateKey, this.#nick, text, now)
    const id = this.#publish(payload)
    this.history.add({ id, timestamp: now, payload }, now)
    return id
  }

  /**
   * Sends `text` readable only by `target` — a member's nick, node id or unique id prefix,
   * or a direct neighbour's id — and waits for its receipt: a `receipt` event follows,
   * `delivered` or, after `receiptTimeout`, `not-confirmed`.
   * @throws {UnknownRecipientError} when the target is unknown or ambiguous
   */
  sendDirect(target: string, text: string): { id: string; to: Recipient } {
    const to = this.resolve(target)
    const id = this.#publish(encodeDirect(this.#privateKey, to.publicKey, this.#nick, text, this.#now()))
    if (this.#pending.size >= MAX_PENDING_RECEIPTS) this.#settle(this.#pending.keys().next().value!, 'not-confirmed')
    const timer = this.#clock.setTimeout(() => this.#settle(id, 'not-confirmed'), this.#receiptTimeout)
    timer.unref()
    this.#pending.set(id, { to: to.id, nick: to.nick ?? shortId(to.id), timer })
    return { id, to }
  }

  /**
   * Finds a member or neighbour by full id, id prefix (4+ hex digits) or nick. Present
   * members come first; gone ones are found only when no present one matches.
   * @throws {UnknownRecipientError} when nothing or more than one thing matches
   */
  resolve(target: string): Recipient {
    const t = target.toLowerCase().replace(/^0x/, '')
    const candidates = new Map<string, Recipient & { present: boolean }>()
    for (const link of this.#links.values()) candidates.set(link.peer.id, { id: link.peer.id, publicKey: link.peer.publicKey, ...this.#nickOf(link.peer.id), present: true })
    for (const m of this.roster.all()) {
      if (!m.self && !candidates.has(m.id)) candidates.set(m.id, { id: m.id, publicKey: m.publicKey, nick: m.nick, present: m.present })
    }
    const exact = candidates.get(t)
    if (exact) return strip(exact)
    const isPrefix = /^[0-9a-f]{4,}$/.test(t)
    const match = (present: boolean): (Recipient & { present: boolean })[] =>
      [...candidates.values()].filter((c) => c.present === present && ((isPrefix && c.id.startsWith(t)) || c.nick === target))
    const found = match(true).length > 0 ? match(true) : match(false)
    if (found.length === 1) return strip(found[0]!)
    if (found.length === 0 && (t === this.#selfId || target === this.#nick)) throw new UnknownRecipientError(target, 'that is you')
    if (found.length === 0) throw new UnknownRecipientError(target, 'no member or neighbour has that nick or id; /who lists the members')
    throw new UnknownRecipientError(target, `ambiguous, matches ${found.map((c) => `${c.nick ?? '?'}/${c.id.slice(0, 8)}`).join(', ')}; use a longer id prefix`)
  }

  /**
   * Says goodbye to the chat (when we had announced ourselves) and stops: no more timers,
   * reads or deliveries. Resolves once every neighbour has taken the goodbye (it answers a
   * request sent after it) or {@link SYNC_TIMEOUT} passed; then stop the server, whose
   * Disconnect would otherwise overtake a goodbye still unread at a neighbour.
   */
  async stop(): Promise<void> {
    if (this.#stopped) return
    this.#stopped = true
    this.#clock.clearTimeout(this.#refreshTimer)
    this.#clock.clearTimeout(this.#expiryTimer)
    for (const p of this.#pending.values()) this.#clock.clearTimeout(p.timer)
    if (this.#announced && this.#links.size > 0) {
      this.#engine?.publish(encodeGoodbye(this.#privateKey, Math.max(this.#now(), this.#presenceStamp + 1)))
      await Promise.all([...this.#links.values()].map((link) => this.#request(link, ChatMsg.GetRoster, 0)))
    }
    for (const link of this.#links.values()) for (const r of link.requests.values()) this.#settleRequest(link, r)
    this.#engine?.close()
  }

  // -------------------------------------------------------------------------------------
  // Links

  async #run(peer: ChatPeer, rw: MsgReadWriter): Promise<void> {
    const now = (): number => this.#now()
    const link: Link = {
      peer,
      rw,
      requests: new Map(),
      historyRate: new TokenBucket(SYNC_RATE.rate, SYNC_RATE.burst, now),
      rosterRate: new TokenBucket(SYNC_RATE.rate, SYNC_RATE.burst, now),
    }
    // A newer connection to the same node takes its place, and its flooding too.
    if (this.#links.has(peer.id)) this.#unflood(peer.id)
    this.#links.set(peer.id, link)
    if (!this.#stopped) void this.#request(link, ChatMsg.GetRoster)
    this.#flood(peer.id)
    try {
      for await (const msg of rw) this.#onMessage(link, msg)
    } finally {
      for (const r of link.requests.values()) this.#settleRequest(link, r)
      if (this.#links.get(peer.id) === link) {
        this.#unflood(peer.id)
        this.#links.delete(peer.id)
      }
    }
  }

  #onMessage(link: Link, msg: Msg): void {
    // A stopping node still answers requests: its neighbour may be stopping too, and waiting for that answer.
    if (this.#stopped && msg.code === ChatMsg.Flood) return
    switch (msg.code) {
      case ChatMsg.Flood:
        this.engine.handle(link.peer.id, msg.payload)
        return
      case ChatMsg.GetHistory:
      case ChatMsg.GetRoster: {
        const { requestId, limit } = decodeRequest(msg.payload)
        const history = msg.code === ChatMsg.GetHistory
        if (!(history ? link.historyRate : link.rosterRate).take()) {
          log('%s asked for the %s too often; not answered', shortId(link.peer.id), history ? 'history' : 'roster')
          return
        }
        const all = history ? this.history.payloads(this.#now()) : this.roster.announcements(ROSTER_SYNC_MAX)
        // The newest `limit`: history is oldest first, the roster most recently heard first.
        const entries = limit === undefined ? all : history ? all.slice(all.length - Math.min(limit, all.length)) : all.slice(0, limit)
        link.rw
          .writeMsg(history ? ChatMsg.History : ChatMsg.Roster, encodeResponse(requestId, entries))
          .catch((err: Error) => log('%s answer to %s not sent: %s', history ? 'history' : 'roster', shortId(link.peer.id), err.message))
        return
      }
      case ChatMsg.History:
      case ChatMsg.Roster:
        this.#onResponse(link, msg.code, msg.payload)
        return
      default:
        throw new MessageDecodeError(`unknown chat message code ${msg.code}`)
    }
  }

  /** Asks `link` for its history or roster; resolves once answered, timed out or the link closed. */
  #request(link: Link, code: ChatMsg.GetHistory | ChatMsg.GetRoster, limit?: number): Promise<void> {
    const id = this.#nextRequest++
    return new Promise((done) => {
      const request: Request = { id, code, done, timer: this.#clock.setTimeout(() => this.#settleRequest(link, request), SYNC_TIMEOUT) }
      request.timer.unref()
      link.requests.set(id, request)
      link.rw.writeMsg(code, encodeRequest(id, limit)).catch((err: Error) => {
        log('request to %s not sent: %s', shortId(link.peer.id), err.message)
        this.#settleRequest(link, request)
      })
    })
  }

  #settleRequest(link: Link, request: Request): void {
    this.#clock.clearTimeout(request.timer)
    link.requests.delete(request.id)
    request.done()
  }

  #onResponse(link: Link, code: ChatMsg.History | ChatMsg.Roster, payload: Uint8Array): void {
    const { requestId, envelopes } = decodeResponse(code, payload)
    const asked = link.requests.get(requestId)
    if (!asked || asked.code !== code - 1) {
      log('unrequested %s from %s ignored', code === ChatMsg.History ? 'history' : 'roster', shortId(link.peer.id))
      return
    }
    this.#settleRequest(link, asked)
    if (this.#stopped) return
    const now = this.#now()
    const want = code === ChatMsg.History ? ChatKind.Broadcast : ChatKind.Presence
    const verified: Envelope[] = []
    for (const bytes of envelopes) {
      try {
        const env = decodeEnvelope(bytes)
        if (env.kind !== want) throw new MessageDecodeError(`a ${code === ChatMsg.History ? 'history' : 'roster'} entry of kind ${env.kind}`)
        // History is verified by signature, not by the clock window; only the future is refused.
        if (env.timestamp > now + this.#window) throw new MessageDecodeError(`an entry from ${env.timestamp - now} ms in the future`)
        verified.push(env)
      } catch (err) {
        this.#reject(link.peer.id, (err as Error).message)
      }
    }
    let count = 0
    if (code === ChatMsg.History) {
      verified.sort((a, b) => a.timestamp - b.timestamp || (a.id < b.id ? -1 : 1))
      for (const env of verified as BroadcastEnvelope[]) {
        if (this.guard.has(env.id, now) || !this.history.add({ id: env.id, timestamp: env.timestamp, payload: env.payload }, now)) continue
        // A live copy of it within its window is then a replay, not a new message.
        this.guard.admit(env.id, env.timestamp + this.#window, now)
        count++
        this.events.emit('history', toMessage(env, env.nick, env.text))
      }
      if (count > 0) this.#historyFilled = true
    } else {
      for (const env of verified as PresenceEnvelope[]) {
        if (env.origin === this.#selfId) continue
        const known = this.roster.get(env.origin)?.present
        this.#changed(this.roster.announce(env, now, false, this.#attachedAt))
        if (!known && this.roster.get(env.origin)?.present) count++
      }
      this.#scheduleExpiry()
    }
    this.events.emit('synced', { kind: code === ChatMsg.History ? 'history' : 'roster', from: link.peer.id, count })
  }

  // -------------------------------------------------------------------------------------
  // Flooded envelopes

  #validate(id: string, origin: string, payload: Uint8Array, from: string): boolean {
    let env: Envelope
    try {
      env = decodeEnvelope(payload)
      // The seen-cache dedups by the id on the wire: hold every id to the content it names.
      if (id !== env.id) throw new Error('flood id is not the message id')
      // Relays skip the flood origin, and that node drops the message as its own: a forged
      // origin would steer a message away from the node it names.
      if (origin !== env.origin) throw new Error(`flood origin ${origin.slice(0, 8)} is not the signer ${env.origin.slice(0, 8)}`)
      const now = this.#now()
      if (Math.abs(env.timestamp - now) > this.#window) throw new Error(`timestamp ${env.timestamp} is outside the ±${this.#window} ms window`)
      if (!this.#rate(env.origin)) throw new Error(`${env.origin.slice(0, 8)} is over its rate of ${ORIGIN_RATE.rate} messages/s`)
      const admission = this.guard.admit(env.id, env.timestamp + this.#window, now)
      if (admission !== 'new') {
        this.stats[admission === 'replay' ? 'replays' : 'stale']++
        log('%s message %s relayed by %s dropped', admission, shortId(env.id), shortId(from))
        return false
      }
    } catch (err) {
      this.#reject(from, (err as Error).message)
      return false
    }
    this.#verified.set(payload, env)
    return true
  }

  #reject(from: string, reason: string): void {
    this.stats.rejected++
    log('rejected message relayed by %s: %s', shortId(from), reason)
    this.events.emit('rejected', { from, reason })
  }

  /** Takes one token from the author's bucket; the table forgets the least recently heard author first. */
  #rate(origin: string): boolean {
    let bucket = this.#rates.get(origin)
    if (bucket) this.#rates.delete(origin)
    else bucket = new TokenBucket(ORIGIN_RATE.rate, ORIGIN_RATE.burst, () => this.#now())
    this.#rates.set(origin, bucket)
    if (this.#rates.size > RATE_TABLE_SIZE) this.#rates.delete(this.#rates.keys().next().value!)
    return bucket.take()
  }

  /** Reads verified envelopes from the engine and acts on them. */
  async #pump(): Promise<void> {
    for await (const delivery of this.engine) {
      try {
        this.#deliver(this.#verified.get(delivery.payload) ?? decodeEnvelope(delivery.payload))
      } catch (err) {
        log('delivery of %s failed: %s', shortId(delivery.id), (err as Error).message)
      }
    }
  }

  #deliver(env: Envelope): void {
    const now = this.#now()
    switch (env.kind) {
      case ChatKind.Broadcast:
        this.#changed(this.roster.heard({ origin: env.origin, originKey: env.originKey, timestamp: env.timestamp, nick: env.nick }, now))
        this.history.add({ id: env.id, timestamp: env.timestamp, payload: env.payload }, now)
        this.events.emit('message', toMessage(env, env.nick, env.text))
        break
      case ChatKind.Presence:
        this.#changed(this.roster.announce(env, now, true, this.#attachedAt))
        break
      case ChatKind.Goodbye:
        this.#changed(this.roster.goodbye(env.origin, env.timestamp))
        break
      case ChatKind.Direct:
        this.#changed(this.roster.heard({ origin: env.origin, originKey: env.originKey, timestamp: env.timestamp }, now))
        if (env.recipient === this.#selfId) this.#onDirect(env)
        break
    }
    this.#scheduleExpiry()
  }

  #onDirect(env: DirectEnvelope): void {
    let body
    try {
      body = openDirect(env, this.#privateKey)
    } catch (err) {
      this.#reject(env.origin, `direct message: ${(err as Error).message}`)
      return
    }
    if (body.kind === DirectKind.Message) {
      this.events.emit('direct', { ...toMessage(env, body.nick, body.text), recipient: this.#selfId })
      this.#publish(encodeReceipt(this.#privateKey, env.originKey, env.id, this.#now()))
      return
    }
    const pending = this.#pending.get(body.messageId)
    // Only the node we sent it to can confirm it: anything else is no receipt at all.
    if (pending?.to !== env.origin) {
      log('receipt from %s for %s matches nothing we sent', shortId(env.origin), shortId(body.messageId))
      return
    }
    this.#settle(body.messageId, 'delivered')
  }

  #settle(id: string, status: Receipt['status']): void {
    const pending = this.#pending.get(id)
    if (!pending) return
    this.#clock.clearTimeout(pending.timer)
    this.#pending.delete(id)
    this.events.emit('receipt', { id, to: pending.to, nick: pending.nick, status })
  }

  #changed(change: RosterChange | undefined): void {
    if (!change) return
    if (change.type === 'join') this.events.emit('join', { member: change.member, returning: change.returning })
    else if (change.type === 'leave') this.events.emit('leave', { member: change.member, reason: change.reason })
    else this.events.emit('rename', { member: change.member, from: change.from })
  }

  // -------------------------------------------------------------------------------------
  // Presence

  /** Our presence announcement, signed now, declaring the current refresh period. */
  #presence(): Uint8Array {
    const period = this.presencePeriod
    this.#declared = Math.ceil(period * (1 + PRESENCE_JITTER))
    let host: string | undefined
    let port: number | undefined
    try {
      const me = parseEnode(this.#host!.enode)
      // Only an address others can dial: an IP literal, not the unspecified one.
      if (me.host !== undefined && isIP(me.host) !== 0 && me.host !== '0.0.0.0' && me.host !== '::') ({ host, port } = { host: me.host, port: me.tcpPort })
    } catch (err) {
      log('our enode %s gives no address to announce: %s', this.#host!.enode, (err as Error).message)
    }
    // Strictly increasing: receivers apply only an announcement newer than the last one.
    this.#presenceStamp = Math.max(this.#now(), this.#presenceStamp + 1)
    return encodePresence(this.#privateKey, { nick: this.#nick, host, port, interval: this.#declared, since: this.#attachedAt }, this.#presenceStamp)
  }

  #announce(): void {
    const payload = this.#presence()
    this.roster.setSelf(decodeEnvelope(payload) as PresenceEnvelope, this.#now())
    this.#announced = true
    this.#publish(payload)
  }

  /**
   * Floods one of our envelopes. Any of them tells the room we are here, so the next
   * refresh is due a jittered period after it — never later than the period we declared.
   */
  #publish(payload: Uint8Array): string {
    const id = this.engine.publish(payload)
    if (this.#announced && !this.#stopped) {
      this.#clock.clearTimeout(this.#refreshTimer)
      const factor = 1 - PRESENCE_JITTER + 2 * PRESENCE_JITTER * this.#random()
      this.#refreshTimer = this.#clock.setTimeout(() => this.#announce(), Math.min(this.#declared, Math.round(this.presencePeriod * factor)))
      this.#refreshTimer.unref()
    }
    return id
  }

  /** Keeps one timer, at the next member's timeout. */
  #scheduleExpiry(): void {
    if (this.#stopped) return
    const next = this.roster.nextExpiry()
    if (next === this.#expiryAt) return
    this.#clock.clearTimeout(this.#expiryTimer)
    this.#expiryAt = next
    if (next === undefined) return
    this.#expiryTimer = this.#clock.setTimeout(() => {
      this.#expiryAt = undefined
      for (const change of this.roster.expire(this.#now())) this.#changed(change)
      this.#scheduleExpiry()
    }, next - this.#now() + 1)
    this.#expiryTimer.unref()
  }

  /** Whole milliseconds: a virtual clock can stand between two. */
  #now(): number {
    return Math.floor(this.#clock.now())
  }

  #nickOf(id: string): { nick?: string } {
    const nick = this.roster.get(id)?.nick
    return nick === undefined ? {} : { nick }
  }
}

function toMessage(env: BroadcastEnvelope | DirectEnvelope, nick: string, text: string): ChatMessage {
  return { id: env.id, kind: env.kind, origin: env.origin, originKey: env.originKey, nick, text, timestamp: env.timestamp }
}

function strip(c: Recipient & { present: boolean }): Recipient {
  return c.nick === undefined ? { id: c.id, publicKey: c.publicKey } : { id: c.id, publicKey: c.publicKey, nick: c.nick }
}

function positive(value: number, name: string): number {
  if (!Number.isFinite(value) || value <= 0) throw new InvalidOptionError(name, `must be a positive number, got ${value}`)
  return value
}
