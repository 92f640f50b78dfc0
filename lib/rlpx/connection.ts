/**
 * One RLPx session over one socket: the encryption handshake, then framed, MAC'd and
 * (after Hello, on p2p v5) snappy-compressed messages. Knows nothing of Hello or
 * sub-protocols; the peer above it does.
 * @module
 */
import { systemClock, type Clock, type Timer } from '../clock.js'
import { HandshakeClosedError, HandshakeError, HandshakePacketSizeError, HandshakeRepeatedError, HandshakeTimeoutError, MessageDecodeError, MessageTooLargeError, WriteTimeoutError } from '../errors.js'
import { logger, shortId } from '../log.js'
import type { Connection, ConnectionHandlers } from '../transport.js'
import { FrameReader, FrameWriter, MAX_FRAME_SIZE } from './frames.js'
import { Handshake, type HandshakeInit } from './handshake.js'
import { snappyCompress, snappyDecompress, snappyMaxCompressedLength } from './snappy.js'

const log = logger('devp2p:rlpx')

/** Default deadline for the encryption handshake, as in go-ethereum. */
export const DEFAULT_HANDSHAKE_TIMEOUT = 5000
/** Default time the socket may make no write progress with bytes waiting: go-ethereum's frameWriteTimeout. */
export const DEFAULT_WRITE_TIMEOUT = 20_000
/** How long a closing connection may take to flush before the socket is destroyed. */
const CLOSE_GRACE = 1000
/** Frames smaller than this are coalesced into one buffer per socket write. */
const COALESCE_BELOW = 16 * 1024
/** Pending bytes at which a send flushes at once instead of waiting for the batch. */
const FLUSH_AT = 256 * 1024

/**
 * The part of a `net.Socket` the connection uses, so that any duplex byte stream with the
 * same shape (the simulator's in-memory one) can carry RLPx.
 */
export interface ByteStream {
  readonly remoteAddress?: string | undefined
  readonly remotePort?: number | undefined
  /** Bytes written but not yet handed to the OS. */
  readonly writableLength: number
  /** True after a write returned false, until 'drain'. */
  readonly writableNeedDrain: boolean
  /** Bytes received but not yet read (while paused). */
  readonly readableLength: number
  write(chunk: Uint8Array): boolean
  cork(): void
  uncork(): void
  pause(): unknown
  resume(): unknown
  end(): unknown
  destroy(error?: Error): unknown
  setNoDelay?(noDelay?: boolean): unknown
  on(event: 'data', listener: (chunk: Buffer) => void): unknown
  on(event: 'error', listener: (err: Error) => void): unknown
  on(event: 'close' | 'drain', listener: () => void): unknown
  once(event: 'close', listener: () => void): unknown
  off(event: 'data', listener: (chunk: Buffer) => void): unknown
  off(event: 'error', listener: (err: Error) => void): unknown
  off(event: 'close', listener: () => void): unknown
}

/** Options of an {@link RLPxConnection}. */
export interface RLPxConnectionInit {
  socket: ByteStream
  privateKey: Uint8Array
  /** The remote's 64-byte key. Given when dialling (we are the initiator). */
  remotePublicKey?: Uint8Array
  /**
   * Handshake deadline in ms; 0 when the caller holds a deadline of its own (the server's
   * covers the handshake and Hello together). @default 5000
   */
  handshakeTimeout?: number
  /** Largest message payload accepted (before compression) and sent, in bytes. @default 16777215 */
  maxMessageSize?: number
  /** How long the socket may take no bytes while some wait, in ms. @default 20000 */
  writeTimeout?: number
  /** Where deadlines are measured. @default systemClock */
  clock?: Clock
  /** Test hook: a fixed ephemeral key and nonce for the handshake. */
  handshake?: Pick<HandshakeInit, 'ephemeralKey' | 'nonce'>
}


/** The p2p Disconnect message id. */
const DISCONNECT_CODE = 1

const CODE_PREFIX: Buffer[] = Array.from({ length: 128 }, (_, i) => Buffer.from([i === 0 ? 0x80 : i]))

/** RLP encoding of a message id. */
function encodeCode(code: number): Buffer {
  if (code < 128) return CODE_PREFIX[code]!
  const hex = code.toString(16)
  const bytes = Buffer.from(hex.length % 2 === 1 ? `0${hex}` : hex, 'hex')
  return Buffer.concat([Buffer.from([0x80 + bytes.length]), bytes])
}

/** Splits frame data into its RLP msg-id and the payload after it. */
function decodeCode(data: Buffer): { code: number; offset: number } {
  const b = data[0]
  if (b === undefined) throw new MessageDecodeError('empty frame: no message id')
  if (b < 0x80) return { code: b, offset: 1 }
  if (b === 0x80) return { code: 0, offset: 1 }
  const len = b - 0x80
  if (len > 4 || data.length < 1 + len || data[1] === 0) throw new MessageDecodeError('malformed message id')
  return { code: data.readUIntBE(1, len), offset: 1 + len }
}

/** Frame-data bytes beyond the payload: the message id, at most 4 bytes of RLP plus its prefix. */
const CODE_BYTES = 5

/** An RLPx session on a connected socket. Call {@link handshake}, then {@link start}. */
export class RLPxConnection implements Connection {
  readonly socket: ByteStream
  readonly initiator: boolean
  readonly remoteAddress: string
  readonly remoteIp: string
  /** Remote static key: known when dialling, learnt from auth when accepting. */
  remotePublicKey: Buffer | undefined
  /** Dropped once the handshake ends: its packets, nonces and keys are not needed after. */
  #handshake: Handshake | undefined
  #timeout: number
  #writeTimeout: number
  #clock: Clock
  #maxMessageSize: number
  #inputLimit: number
  #writer: FrameWriter | undefined
  #reader: FrameReader | undefined
  #handlers: ConnectionHandlers | undefined
  #snappy = false
  #paused = false
  #closed = false
  /** Input failed to decode: nothing more is read, but frames can still be sent. */
  #readFailed = false
  /** The remote closed cleanly while paused with frames still buffered; onClose waits for resume(). */
  #closeDeferred = false
  #closeError: Error | undefined
  #pending: Buffer[] = []
  #pendingBytes = 0
  #flushScheduled = false
  /** Running while the socket holds bytes it could not write yet; cleared by 'drain'. */
  #writeTimer: Timer | undefined
  readonly #closedPromise: Promise<void>

  constructor(init: RLPxConnectionInit) {
    this.socket = init.socket
    this.#handshake = new Handshake({ privateKey: init.privateKey, remotePublicKey: init.remotePublicKey, ...init.handshake })
    this.initiator = this.#handshake.initiator
    this.remotePublicKey = this.#handshake.remotePublicKey
    this.#timeout = init.handshakeTimeout ?? DEFAULT_HANDSHAKE_TIMEOUT
    this.#writeTimeout = init.writeTimeout ?? DEFAULT_WRITE_TIMEOUT
    this.#clock = init.clock ?? systemClock
    this.#maxMessageSize = Math.min(init.maxMessageSize ?? MAX_FRAME_SIZE, MAX_FRAME_SIZE)
    this.#inputLimit = this.#maxMessageSize
    const { remoteAddress, remotePort } = init.socket
    this.remoteIp = remoteAddress ?? ''
    this.remoteAddress = remoteAddress?.includes(':') ? `[${remoteAddress}]:${remotePort}` : `${remoteAddress}:${remotePort}`
    this.socket.setNoDelay?.(true)
    // Recorded for onClose; without a listener a reset between phases would be uncaught.
    this.socket.on('error', (err) => {
      this.#closeError ??= err
    })
    this.#closedPromise = new Promise((resolve) => this.socket.once('close', () => resolve()))
    this.socket.on('drain', () => this.#onDrain())
  }

  get established(): boolean {
    return this.#writer !== undefined
  }

  get backlog(): number {
    return this.#pendingBytes + this.socket.writableLength
  }

  get inputWaiting(): boolean {
    return (this.#reader?.buffered ?? 0) > 0 || this.socket.readableLength > 0
  }

  /**
   * Runs the encryption handshake. Resolves with the remote's 64-byte static key.
   * @throws {HandshakeError} a subclass naming what went wrong; the socket is destroyed
   */
  handshake(): Promise<Buffer> {
    const hs = this.#handshake
    if (!hs) return Promise.reject(new HandshakeRepeatedError())
    const socket = this.socket
    return new Promise<Buffer>((resolve, reject) => {
      let received: Buffer = Buffer.alloc(0)
      const finish = (err: Error | undefined, leftover?: Buffer): void => {
        this.#handshake = undefined
        this.#clock.clearTimeout(timer)
        socket.off('data', onData)
        socket.off('close', onClose)
        socket.off('error', onError)
        if (err) {
          log('%s handshake failed: %s', this.remoteAddress, err.message)
          this.#closed = true
          socket.destroy()
          reject(err)
          return
        }
        const secrets = hs.secrets()
        this.remotePublicKey = secrets.remotePublicKey
        this.#writer = new FrameWriter(secrets)
        this.#reader = new FrameReader(secrets, this.#frameLimit())
        secrets.aesSecret.fill(0)
        secrets.macSecret.fill(0)
        socket.pause()
        if (leftover && leftover.length > 0) this.#reader.push(leftover)
        log('%s handshake done with %s (%s, %s)', this.remoteAddress, shortId(secrets.remotePublicKey), this.initiator ? 'outbound' : 'inbound', hs.format)
        resolve(secrets.remotePublicKey)
      }
      const onData = (chunk: Buffer): void => {
        received = received.length === 0 ? chunk : Buffer.concat([received, chunk])
        try {
          const used = this.initiator ? hs.readAck(received) : hs.readAuth(received)
          if (used === 0) return
          if (!this.initiator) socket.write(hs.createAck())
          finish(undefined, received.subarray(used))
        } catch (err) {
          finish(err instanceof HandshakeError ? err : new HandshakeClosedError(`handshake failed: ${(err as Error).message}`))
        }
      }
      const onClose = (): void => {
        // destroy(error) from the owner (its deadline) says why better than the close does.
        if (this.#closeError instanceof HandshakeError) return finish(this.#closeError)
        const what = this.initiator ? 'ack' : 'auth'
        finish(
          received.length > 0
            ? new HandshakePacketSizeError(`connection closed after ${received.length} bytes of an incomplete ${what} packet`)
            : new HandshakeClosedError(
                this.initiator
                  ? 'remote closed the connection before answering auth; check that the enode key matches the node at that address'
                  : 'remote closed the connection before sending auth',
              ),
        )
      }
      const onError = (err: Error): void => {
        finish(new HandshakeClosedError(`socket error during handshake: ${err.message}`))
      }
      const timer = this.#timeout > 0 ? this.#clock.setTimeout(() => finish(new HandshakeTimeoutError(this.#timeout)), this.#timeout) : undefined
      socket.on('data', onData)
      socket.on('close', onClose)
      socket.on('error', onError)
      socket.resume()
      if (this.initiator) socket.write(hs.createAuth())
    })
  }

  start(handlers: ConnectionHandlers): void {
    this.#handlers = handlers
    this.socket.on('data', (chunk: Buffer) => {
      if (this.#readFailed || this.#closed) return
      this.#reader!.push(chunk)
      this.#drain()
    })
    this.socket.on('close', () => {
      this.#clock.clearTimeout(this.#writeTimer)
      // Node ends a paused socket once its own buffer is empty, so a clean remote close can
      // overtake pause() while whole frames still sit in the reader: keep them for resume().
      const deliverLater = !this.#closed && this.#closeError === undefined && this.#paused && this.#reader!.buffered > 0
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
    if (this.#reader) this.#reader.maxFrameSize = this.#frameLimit()
  }

  enableSnappy(): void {
    this.#snappy = true
    if (this.#reader) this.#reader.maxFrameSize = this.#frameLimit()
  }

  /**
   * The largest frame that can carry a payload within the input limit: a sender checks the
   * limit on the payload before compressing, so the frame may be snappy's worst case larger.
   */
  #frameLimit(): number {
    const body = this.#snappy ? snappyMaxCompressedLength(this.#inputLimit) : this.#inputLimit
    return Math.min(MAX_FRAME_SIZE, CODE_BYTES + body)
  }

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

  /**
   * Queues one message. Frames queued in the same turn of the event loop go out in one
   * socket write.
   * @throws {MessageTooLargeError} when the payload exceeds the message size limit
   */
  send(code: number, payload: Uint8Array): void {
    if (this.#closed) return
    if (payload.length > this.#maxMessageSize) {
      throw new MessageTooLargeError(`payload of ${payload.length} bytes exceeds the ${this.#maxMessageSize}-byte limit`)
    }
    const body = this.#snappy ? snappyCompress(Buffer.from(payload.buffer, payload.byteOffset, payload.length)) : [payload]
    for (const chunk of this.#writer!.encode([encodeCode(code), ...body])) {
      this.#pending.push(chunk)
      this.#pendingBytes += chunk.length
    }
    if (this.#pendingBytes >= FLUSH_AT) this.flush()
    else if (!this.#flushScheduled) {
      this.#flushScheduled = true
      setImmediate(() => this.flush())
    }
  }

  /** Writes every queued frame now. */
  flush(): void {
    this.#flushScheduled = false
    const list = this.#pending
    if (list.length === 0 || this.#closed) return
    this.#pending = []
    this.#pendingBytes = 0
    const socket = this.socket
    socket.cork()
    let run: Buffer[] = []
    let runBytes = 0
    const writeRun = (): void => {
      socket.write(run.length === 1 ? run[0]! : Buffer.concat(run, runBytes))
      run = []
      runBytes = 0
    }
    for (const chunk of list) {
      if (chunk.length >= COALESCE_BELOW) {
        if (run.length > 0) writeRun()
        socket.write(chunk)
      } else {
        run.push(chunk)
        runBytes += chunk.length
      }
    }
    if (run.length > 0) writeRun()
    socket.uncork()
    // The socket emits 'drain' only after a write it refused; when it took everything, say
    // so now, or writers waiting on the pending bytes just flushed would wait for nothing.
    if (socket.writableNeedDrain) this.#writeTimer ??= this.#clock.setTimeout(() => this.#writeStalled(), this.#writeTimeout)
    else this.#handlers?.onDrain?.()
  }

  #onDrain(): void {
    this.#clock.clearTimeout(this.#writeTimer)
    this.#writeTimer = undefined
    this.#handlers?.onDrain?.()
  }

  #writeStalled(): void {
    this.#writeTimer = undefined
    if (this.#closed) return
    log('%s took no bytes for %d ms with %d waiting: closing', this.remoteAddress, this.#writeTimeout, this.backlog)
    this.destroy(new WriteTimeoutError(this.#writeTimeout, this.backlog))
  }

  /** Flushes, ends the socket, and destroys it if the remote has not closed within 1 s. */
  close(): Promise<void> {
    if (!this.#closed) {
      this.flush()
      this.#closed = true
      this.socket.end()
      this.#clock.clearTimeout(this.#writeTimer)
      this.#writeTimer = undefined
      this.#clock.setTimeout(() => this.socket.destroy(), CLOSE_GRACE)
      // A paused socket would never see the remote's close: read on, discarding, until it comes.
      if (this.#handlers) this.socket.resume()
    }
    this.#reportDeferredClose()
    return this.#closedPromise
  }

  destroy(error?: Error): void {
    if (error) this.#closeError ??= error
    this.#closed = true
    this.#clock.clearTimeout(this.#writeTimer)
    this.#writeTimer = undefined
    this.socket.destroy()
    this.#reportDeferredClose()
  }

  get closed(): Promise<void> {
    return this.#closedPromise
  }

  /** Reports a close held back by `#closeDeferred`, asynchronously as a socket close would be. */
  #reportDeferredClose(): void {
    if (!this.#closeDeferred) return
    this.#closeDeferred = false
    process.nextTick(() => this.#handlers!.onClose(this.#closeError))
  }

  /**
   * Inflates one payload. A Disconnect that is not valid snappy is taken as sent: some
   * clients (@ethereumjs/devp2p 10) never compress it, and its reason is worth keeping.
   */
  #decompress(code: number, raw: Buffer): Buffer {
    try {
      return snappyDecompress(raw, this.#inputLimit)
    } catch (err) {
      if (code === DISCONNECT_CODE && raw.length <= 2) return raw
      throw err
    }
  }

  #drain(): void {
    const reader = this.#reader!
    if (!this.#handlers || this.#readFailed) return
    try {
      while (!this.#paused && (!this.#closed || this.#closeDeferred)) {
        const data = reader.next()
        if (!data) break
        const { code, offset } = decodeCode(data)
        const raw = data.subarray(offset)
        if (!this.#snappy && raw.length > this.#inputLimit) {
          throw new MessageTooLargeError(`message of ${raw.length} bytes exceeds the ${this.#inputLimit}-byte limit`)
        }
        this.#handlers.onMessage(code, this.#snappy ? this.#decompress(code, raw) : raw)
      }
    } catch (err) {
      // The ingress stream is unusable from here on; egress is not, so the owner may still
      // send Disconnect with the reason before it closes.
      log('%s %s: reading stopped', this.remoteAddress, (err as Error).message)
      this.#readFailed = true
      this.socket.pause()
      if (this.#handlers.onError) this.#handlers.onError(err as Error)
      else this.destroy(err as Error)
    }
  }
}
