/**
 * chat/1: a chat on floodnet's flooding engine. Broadcasts carry a signature that every
 * node verifies before delivering or relaying, so nobody speaks in another node's name;
 * direct messages are sealed to the recipient's key and relayed by everyone else unread.
 * @module
 */
import { keccak256, nodeId, publicKeyOf, ServerStateError, TypedEvents, type MsgReadWriter, type Peer, type Protocol, type Server } from '../../lib/index.js'
import { Devp2pError, InvalidOptionError } from '../../lib/errors.js'
import { logger, shortId } from '../../lib/log.js'
import { FloodEngine, type FloodEngineOptions } from '../floodnet/index.js'
import { ChatKind, encodeBroadcast, encodeDirect, openEnvelope, unsealDirect, type ChatMessage, type Envelope } from './message.js'

const log = logger('chat')

/** How far a message's timestamp may be from our clock, in ms. */
export const CLOCK_WINDOW = 5 * 60 * 1000
/** Nodes remembered in the directory (nick and key of those who spoke). */
const DIRECTORY_SIZE = 4096

/** Options of {@link Chat}; the flood engine's options apply too. */
export interface ChatOptions extends Omit<FloodEngineOptions, 'selfId' | 'validate' | 'messageId'> {
  /** The node's private key: it signs our messages and opens direct ones. Use the server's. */
  privateKey: Uint8Array
  /** Our nick. @default 'anon' */
  nick?: string
  /** Accepted distance between a message's timestamp and our clock, ms. @default 300000 */
  clockWindow?: number
}

/** A node we have heard from. */
export interface Contact {
  id: string
  nick: string
  publicKey: Buffer
  lastSeen: number
}

/** Events on `chat.events`. */
export interface ChatEvents {
  /** A verified broadcast from another node. */
  message: (message: ChatMessage) => void
  /** A verified direct message addressed to us. */
  direct: (message: ChatMessage) => void
  /** A message that failed verification was dropped. */
  rejected: (event: { from: string; reason: string }) => void
}

/** A direct-message target could not be resolved. */
export class UnknownRecipientError extends Devp2pError {
  constructor(target: string, detail: string) {
    super('ERR_UNKNOWN_RECIPIENT', `cannot send to ${JSON.stringify(target)}: ${detail}`)
  }
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
  /** The capability to register with the server: `chat/1`, one message code. */
  readonly protocol: Protocol
  /** Messages dropped for a bad signature, bad bounds or a bad timestamp. */
  rejected = 0
  nick: string
  #privateKey: Uint8Array
  #options: ChatOptions
  #clockWindow: number
  #engine: FloodEngine | undefined
  #server: Server | undefined
  #contacts = new Map<string, Contact>()
  #reading = false
  /** Envelopes verified by the validator, so delivery does not decode and recover again. */
  #verified = new WeakMap<Uint8Array, Envelope>()

  constructor(options: ChatOptions) {
    this.#options = options
    this.#privateKey = options.privateKey
    this.nick = options.nick ?? 'anon'
    this.#clockWindow = options.clockWindow ?? CLOCK_WINDOW
    this.protocol = { name: 'chat', version: 1, length: 1, run: (peer, rw) => this.#run(peer, rw) }
  }

  /**
   * Binds to the server; its key must be this chat's key.
   * @throws {InvalidOptionError} when the server's key is another one
   */
  attach(server: Server): void {
    if (this.#server) throw new ServerStateError('chat is already attached to a server')
    // Receivers refuse a message whose flood origin (the server's id) is not its signer, so
    // a mismatched key would make every message we send vanish without a trace.
    if (nodeId(publicKeyOf(this.#privateKey)) !== server.id) throw new InvalidOptionError('privateKey', "chat's key must be the server's key")
    this.#server = server
    this.#engine = new FloodEngine({
      ...this.#options,
      selfId: server.id,
      // Content-bound ids: a replayed message is a duplicate, not a new one.
      messageId: (payload) => keccak256(payload).subarray(0, 16),
      validate: ({ id, origin, payload, from }) => this.#validate(id, origin, payload, from),
    })
    void this.#pump()
  }

  /** The flooding engine behind chat (counters, seen-cache). */
  get engine(): FloodEngine {
    if (!this.#engine) throw new ServerStateError('chat is not attached: call attach(server) first')
    return this.#engine
  }

  /** Nodes heard from, most recent last. */
  get contacts(): Contact[] {
    return [...this.#contacts.values()]
  }

  /**
   * Broadcasts `text` to everyone; returns the message id.
   * @throws {RangeError} when the text is over 2 KiB
   */
  send(text: string): string {
    return this.engine.publish(encodeBroadcast(this.#privateKey, this.nick, text))
  }

  /**
   * Sends `text` readable only by `target`: a node id, a unique id prefix or a nick, among
   * the nodes heard from (their key is needed to seal the message).
   * @throws {UnknownRecipientError} when the target is unknown or ambiguous
   */
  sendDirect(target: string, text: string): { id: string; to: Contact } {
    const to = this.resolve(target)
    return { id: this.engine.publish(encodeDirect(this.#privateKey, to.publicKey, this.nick, text)), to }
  }

  /** Finds a contact by id, id prefix or nick. @throws {UnknownRecipientError} */
  resolve(target: string): Contact {
    const t = target.toLowerCase().replace(/^0x/, '')
    const exact = this.#contacts.get(t)
    if (exact) return exact
    const byPrefix = /^[0-9a-f]{4,}$/.test(t) ? this.contacts.filter((c) => c.id.startsWith(t)) : []
    const matches = byPrefix.length > 0 ? byPrefix : this.contacts.filter((c) => c.nick === target)
    if (matches.length === 1) return matches[0]!
    if (matches.length === 0) throw new UnknownRecipientError(target, 'no node with that id or nick has spoken yet')
    throw new UnknownRecipientError(target, `ambiguous, matches ${matches.map((c) => `${c.nick}/${c.id.slice(0, 8)}`).join(', ')}; use a longer id prefix`)
  }

  /** Ends delivery; the server's stop() closes the connections. */
  stop(): void {
    this.#engine?.close()
  }

  async #run(peer: Peer, rw: MsgReadWriter): Promise<void> {
    const remove = this.engine.addNeighbour(peer.id, (payload) => rw.writeMsg(0, payload))
    try {
      for await (const msg of rw) this.engine.handle(peer.id, msg.payload)
    } finally {
      remove()
    }
  }

  #validate(id: string, origin: string, payload: Uint8Array, from: string): boolean {
    let env: Envelope
    try {
      // The seen-cache dedups by the id on the wire, so a relay could replay a message under
      // a fresh id and have it delivered again: hold every id to the content it names.
      if (id !== keccak256(payload).subarray(0, 16).toString('hex')) throw new Error('flood id is not the hash of the message')
      env = openEnvelope(payload)
      // Relays skip the flood origin, and that node drops the message as its own: a forged
      // origin would steer a message away from the node it names.
      if (origin !== env.origin) throw new Error(`flood origin ${origin.slice(0, 8)} is not the signer ${env.origin.slice(0, 8)}`)
      if (Math.abs(env.timestamp - Date.now()) > this.#clockWindow) throw new Error(`timestamp ${env.timestamp} is outside the ±${this.#clockWindow} ms window`)
      this.#verified.set(payload, env)
    } catch (err) {
      this.rejected++
      const reason = (err as Error).message
      log('rejected message relayed by %s: %s', shortId(from), reason)
      this.events.emit('rejected', { from, reason })
      return false
    }
    return true
  }

  /** Reads verified envelopes from the engine and turns them into events. */
  async #pump(): Promise<void> {
    if (this.#reading) return
    this.#reading = true
    for await (const delivery of this.engine) {
      const env = this.#verified.get(delivery.payload) ?? openEnvelope(delivery.payload)
      if (env.kind === ChatKind.Broadcast) {
        this.#remember(env, env.nick!)
        this.events.emit('message', { kind: env.kind, origin: env.origin, originKey: env.originKey, nick: env.nick!, text: env.text!, timestamp: env.timestamp })
      } else if (env.recipient === this.#server!.id) {
        let body: { nick: string; text: string }
        try {
          body = unsealDirect(env, this.#privateKey)
        } catch (err) {
          this.rejected++
          log('direct message from %s could not be opened: %s', shortId(env.origin), (err as Error).message)
          continue
        }
        this.#remember(env, body.nick)
        this.events.emit('direct', { kind: env.kind, origin: env.origin, originKey: env.originKey, nick: body.nick, text: body.text, timestamp: env.timestamp, recipient: env.recipient })
      }
    }
  }

  #remember(env: Envelope, nick: string): void {
    this.#contacts.delete(env.origin)
    this.#contacts.set(env.origin, { id: env.origin, nick, publicKey: env.originKey, lastSeen: Date.now() })
    if (this.#contacts.size > DIRECTORY_SIZE) this.#contacts.delete(this.#contacts.keys().next().value!)
  }
}
