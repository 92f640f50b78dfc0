/**
 * A {@link Connection} without the RLPx crypto, for simulations too large to pay for it:
 * the handshake swaps public keys in the clear, and messages travel as objects. Everything
 * else — one chunk per event-loop turn of sends, pause and resume, a clean close that waits
 * for buffered input, the close grace — follows `RLPxConnection` step for step, over the
 * same {@link MemoryStream}, so a simulation gives the same overlay either way.
 * @module
 */
import type { Clock } from '../lib/clock.js'
import { HandshakeClosedError, HandshakeError, HandshakeRepeatedError, MessageTooLargeError, UnexpectedIdentityError } from '../lib/errors.js'
import type { Connection, ConnectionHandlers } from '../lib/transport.js'
import type { MemoryStream } from './stream.js'

/** One message, or a handshake packet (code {@link AUTH} or {@link ACK}, payload the sender's key). */
export interface PlainItem {
  code: number
  payload: Uint8Array
}

/** What a plain stream carries: the items written in one turn of the event loop. */
export class PlainChunk {
  constructor(readonly items: PlainItem[]) {}
  get length(): number {
    return this.items.length
  }
  static merge(chunks: PlainChunk[]): PlainChunk {
    return new PlainChunk(chunks.flatMap((c) => c.items))
  }
}

const AUTH = -1
const ACK = -2
/** As RLPxConnection's. */
const CLOSE_GRACE = 1000
const FLUSH_AT = 256 * 1024

/** Options of a {@link PlainConnection}. */
export interface PlainConnectionInit {
  socket: MemoryStream<PlainChunk>
  publicKey: Buffer
  /** The key we expect at the other end; given when dialling. */
  remotePublicKey?: Buffer
  maxMessageSize: number
  clock: Clock
}

/** See the module comment. */
export class PlainConnection implements Connection {
  readonly socket: MemoryStream<PlainChunk>
  readonly initiator: boolean
  readonly remoteAddress: string
  readonly remoteIp: string
  #publicKey: Buffer
  #remotePublicKey: Buffer | undefined
  #handshakeStarted = false
  #established = false
  #clock: Clock
  #maxMessageSize: number
  #inputLimit: number
  #reader: PlainItem[] = []
  #handlers: ConnectionHandlers | undefined
  #paused = false
  #closed = false
  #readFailed = false
  #closeDeferred = false
  #closeError: Error | undefined
  #pending: PlainItem[] = []
  #pendingBytes = 0
  #flushScheduled = false
  readonly #closedPromise: Promise<void>

  constructor(init: PlainConnectionInit) {
    this.socket = init.socket
    this.#publicKey = init.publicKey
    this.#remotePublicKey = init.remotePublicKey
    this.initiator = init.remotePublicKey !== undefined
    this.#clock = init.clock
    this.#maxMessageSize = init.maxMessageSize
    this.#inputLimit = init.maxMessageSize
    this.remoteIp = init.socket.remoteAddress
    this.remoteAddress = `${init.socket.remoteAddress}:${init.socket.remotePort}`
    this.socket.on('error', (err: Error) => {
      this.#closeError ??= err
    })
    this.#closedPromise = new Promise((resolve) => this.socket.once('close', () => resolve()))
  }

  get established(): boolean {
    return this.#established
  }

  get backlog(): number {
    return this.#pendingBytes
  }

  get inputWaiting(): boolean {
    return this.#reader.length > 0 || this.socket.readableLength > 0
  }

  /** The remote's key, sent in the clear; a dialled node must answer with the key we dialled. */
  handshake(): Promise<Buffer> {
    if (this.#handshakeStarted) return Promise.reject(new HandshakeRepeatedError())
    this.#handshakeStarted = true
    const socket = this.socket
    return new Promise<Buffer>((resolve, reject) => {
      const finish = (err: Error | undefined, key?: Buffer, leftover?: PlainItem[]): void => {
        socket.off('data', onData)
        socket.off('close', onClose)
        if (err) {
          this.#closed = true
          socket.destroy()
          reject(err)
          return
        }
        this.#remotePublicKey = key
        this.#established = true
        socket.pause()
        if (leftover) this.#reader.push(...leftover)
        resolve(key!)
      }
      const onData = (chunk: PlainChunk): void => {
        const [first, ...rest] = chunk.items
        const key = Buffer.from(first!.payload)
        if (this.initiator) {
          if (first!.code !== ACK || !key.equals(this.#remotePublicKey!)) return finish(new UnexpectedIdentityError('the dialled node answered with another key'))
        } else {
          if (first!.code !== AUTH) return finish(new HandshakeClosedError('expected a key first'))
          socket.write(new PlainChunk([{ code: ACK, payload: this.#publicKey }]))
        }
        finish(undefined, key, rest)
      }
      const onClose = (): void => {
        // destroy(error) from the owner (its deadline) says why better than the close does.
        if (this.#closeError instanceof HandshakeError) return finish(this.#closeError)
        finish(
          new HandshakeClosedError(
            this.initiator
              ? 'remote closed the connection before answering auth; check that the enode key matches the node at that address'
              : 'remote closed the connection before sending auth',
          ),
        )
      }
      socket.on('data', onData)
      socket.on('close', onClose)
      socket.resume()
      if (this.initiator) socket.write(new PlainChunk([{ code: AUTH, payload: this.#publicKey }]))
    })
  }

  start(handlers: ConnectionHandlers): void {
    this.#handlers = handlers
    this.socket.on('data', (chunk: PlainChunk) => {
      if (this.#readFailed) return
      this.#reader.push(...chunk.items)
      this.#drain()
    })
    this.socket.on('close', () => {
      const deliverLater = !this.#closed && this.#closeError === undefined && this.#paused && this.#reader.length > 0
      this.#closed = true
      if (deliverLater) this.#closeDeferred = true
      else this.#handlers!.onClose(this.#closeError)
    })
    this.socket.resume()
    this.#drain()
  }

  setHandlers(handlers: ConnectionHandlers): void {
    this.#handlers = handlers
  }

  limitInput(maxPayload = this.#maxMessageSize): void {
    this.#inputLimit = Math.min(maxPayload, this.#maxMessageSize)
  }

  /** Nothing to compress in memory; sizes are not modelled. */
  enableSnappy(): void {}

  pause(): void {
    if (this.#paused) return
    this.#paused = true
    this.socket.pause()
  }

  resume(): void {
    if (!this.#paused) return
    this.#paused = false
    this.#drain()
    if (this.#paused) return
    if (this.#closeDeferred) this.#reportDeferredClose()
    else if (!this.#closed && !this.#readFailed) this.socket.resume()
  }

  send(code: number, payload: Uint8Array): void {
    if (this.#closed) return
    if (payload.length > this.#maxMessageSize) throw new MessageTooLargeError(`payload of ${payload.length} bytes exceeds the ${this.#maxMessageSize}-byte limit`)
    this.#pending.push({ code, payload })
    this.#pendingBytes += payload.length
    if (this.#pendingBytes >= FLUSH_AT) this.flush()
    else if (!this.#flushScheduled) {
      this.#flushScheduled = true
      setImmediate(() => this.flush())
    }
  }

  flush(): void {
    this.#flushScheduled = false
    const list = this.#pending
    if (list.length === 0 || this.#closed) return
    this.#pending = []
    this.#pendingBytes = 0
    this.socket.cork()
    this.socket.write(new PlainChunk(list))
    this.socket.uncork()
    this.#handlers?.onDrain?.()
  }

  close(): Promise<void> {
    if (!this.#closed) {
      this.flush()
      this.#closed = true
      this.socket.end()
      this.#clock.setTimeout(() => this.socket.destroy(), CLOSE_GRACE).unref()
    }
    this.#reportDeferredClose()
    return this.#closedPromise
  }

  destroy(error?: Error): void {
    if (error) this.#closeError ??= error
    this.#closed = true
    this.socket.destroy()
    this.#reportDeferredClose()
  }

  get closed(): Promise<void> {
    return this.#closedPromise
  }

  #reportDeferredClose(): void {
    if (!this.#closeDeferred) return
    this.#closeDeferred = false
    process.nextTick(() => this.#handlers!.onClose(this.#closeError))
  }

  #drain(): void {
    if (!this.#handlers || this.#readFailed) return
    try {
      while (!this.#paused && (!this.#closed || this.#closeDeferred)) {
        const item = this.#reader.shift()
        if (!item) break
        if (item.payload.length > this.#inputLimit) throw new MessageTooLargeError(`message of ${item.payload.length} bytes exceeds the ${this.#inputLimit}-byte limit`)
        this.#handlers.onMessage(item.code, Buffer.from(item.payload.buffer, item.payload.byteOffset, item.payload.length))
      }
    } catch (err) {
      this.#readFailed = true
      this.socket.pause()
      if (this.#handlers.onError) this.#handlers.onError(err as Error)
      else this.destroy(err as Error)
    }
  }
}
