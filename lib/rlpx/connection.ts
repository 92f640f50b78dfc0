/**
 * One RLPx session over one socket: the encryption handshake, then framed, MAC'd and
 * (after Hello, on p2p v5) snappy-compressed messages. Knows nothing of Hello or
 * sub-protocols; the peer above it does.
 * @module
 */
import type { Socket } from 'node:net'
import { HandshakeClosedError, HandshakeError, HandshakePacketSizeError, HandshakeTimeoutError, MessageDecodeError, MessageTooLargeError } from '../errors.js'
import { logger, shortId } from '../log.js'
import { FrameReader, FrameWriter, MAX_FRAME_SIZE } from './frames.js'
import { Handshake, type HandshakeInit } from './handshake.js'
import { snappyCompress, snappyDecompress } from './snappy.js'

const log = logger('devp2p:rlpx')

/** Default deadline for the encryption handshake, as in go-ethereum. */
export const DEFAULT_HANDSHAKE_TIMEOUT = 5000
/** How long a closing connection may take to flush before the socket is destroyed. */
const CLOSE_GRACE = 1000
/** Frames smaller than this are coalesced into one buffer per socket write. */
const COALESCE_BELOW = 16 * 1024
/** Pending bytes at which a send flushes at once instead of waiting for the batch. */
const FLUSH_AT = 256 * 1024

/** Options of an {@link RLPxConnection}. */
export interface RLPxConnectionInit {
  socket: Socket
  privateKey: Uint8Array
  /** The remote's 64-byte key. Given when dialling (we are the initiator). */
  remotePublicKey?: Uint8Array
  /** Handshake deadline in ms. @default 5000 */
  handshakeTimeout?: number
  /** Largest frame and largest decompressed payload accepted, in bytes. @default 16777215 */
  maxMessageSize?: number
  /** Test hook: a fixed ephemeral key and nonce for the handshake. */
  handshake?: Pick<HandshakeInit, 'ephemeralKey' | 'nonce'>
}

/** What the connection reports upward once started. */
export interface RLPxHandlers {
  /** A decoded message; `payload` is uncompressed. */
  onMessage(code: number, payload: Buffer): void
  /** The socket is gone; `error` says why when it was not a clean close. */
  onClose(error?: Error): void
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

/** An RLPx session on a connected socket. Call {@link handshake}, then {@link start}. */
export class RLPxConnection {
  readonly socket: Socket
  readonly initiator: boolean
  /** `ip:port` of the remote end, for logs (kept after the socket is gone). */
  readonly remoteAddress: string
  /** Remote static key: known when dialling, learnt from auth when accepting. */
  remotePublicKey: Buffer | undefined
  /** Dropped once the handshake ends: its packets, nonces and keys are not needed after. */
  #handshake: Handshake | undefined
  #timeout: number
  #maxMessageSize: number
  #writer: FrameWriter | undefined
  #reader: FrameReader | undefined
  #handlers: RLPxHandlers | undefined
  #snappy = false
  #paused = false
  #closed = false
  /** The remote closed cleanly while paused with frames still buffered; onClose waits for resume(). */
  #closeDeferred = false
  #closeError: Error | undefined
  #pending: Buffer[] = []
  #pendingBytes = 0
  #flushScheduled = false
  readonly #closedPromise: Promise<void>

  constructor(init: RLPxConnectionInit) {
    this.socket = init.socket
    this.#handshake = new Handshake({ privateKey: init.privateKey, remotePublicKey: init.remotePublicKey, ...init.handshake })
    this.initiator = this.#handshake.initiator
    this.remotePublicKey = this.#handshake.remotePublicKey
    this.#timeout = init.handshakeTimeout ?? DEFAULT_HANDSHAKE_TIMEOUT
    this.#maxMessageSize = Math.min(init.maxMessageSize ?? MAX_FRAME_SIZE, MAX_FRAME_SIZE)
    const { remoteAddress, remotePort } = init.socket
    this.remoteAddress = remoteAddress?.includes(':') ? `[${remoteAddress}]:${remotePort}` : `${remoteAddress}:${remotePort}`
    this.socket.setNoDelay(true)
    // Recorded for onClose; without a listener a reset between phases would be uncaught.
    this.socket.on('error', (err) => {
      this.#closeError ??= err
    })
    this.#closedPromise = new Promise((resolve) => this.socket.once('close', () => resolve()))
  }


  /** True once the encryption handshake is done: frames, a Disconnect included, can be sent. */
  get established(): boolean {
    return this.#writer !== undefined
  }

  /** Whether the kernel buffer is full enough that writers should wait for {@link drained}. */
  get needsDrain(): boolean {
    return this.socket.writableNeedDrain
  }

  /** Resolves when the socket's write buffer has drained (or the socket closed). */
  drained(): Promise<void> {
    if (!this.socket.writableNeedDrain || this.#closed) return Promise.resolve()
    return new Promise((resolve) => {
      const done = (): void => {
        this.socket.off('drain', done)
        this.socket.off('close', done)
        resolve()
      }
      this.socket.on('drain', done)
      this.socket.on('close', done)
    })
  }

  /**
   * Runs the encryption handshake. Resolves with the remote's 64-byte static key.
   * @throws {HandshakeError} a subclass naming what went wrong; the socket is destroyed
   */
  handshake(): Promise<Buffer> {
    const hs = this.#handshake
    if (!hs) return Promise.reject(new HandshakeError('ERR_HANDSHAKE_REPEATED', 'handshake() may be called only once per connection'))
    const socket = this.socket
    return new Promise<Buffer>((resolve, reject) => {
      let received: Buffer = Buffer.alloc(0)
      const finish = (err: Error | undefined, leftover?: Buffer): void => {
        this.#handshake = undefined
        clearTimeout(timer)
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
        this.#reader = new FrameReader(secrets, this.#maxMessageSize)
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
      const timer = setTimeout(() => finish(new HandshakeTimeoutError(this.#timeout)), this.#timeout)
      socket.on('data', onData)
      socket.on('close', onClose)
      socket.on('error', onError)
      socket.resume()
      if (this.initiator) socket.write(hs.createAuth())
    })
  }

  /** Starts delivering messages to `handlers`. Bytes that arrived with the handshake go first. */
  start(handlers: RLPxHandlers): void {
    this.#handlers = handlers
    this.socket.on('data', (chunk: Buffer) => {
      this.#reader!.push(chunk)
      this.#drain()
    })
    this.socket.on('close', () => {
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

  /** Hands the stream to new handlers (the peer, once Hello is done). */
  setHandlers(handlers: RLPxHandlers): void {
    this.#handlers = handlers
  }

  /** From now on, compress every payload both ways (p2p v5, after Hello). */
  enableSnappy(): void {
    this.#snappy = true
  }

  /** Stops reading from the socket until {@link resume}: back-pressure from slow consumers. */
  pause(): void {
    if (this.#paused) return
    this.#paused = true
    this.socket.pause()
  }

  /** Resumes reading after {@link pause}. */
  resume(): void {
    if (!this.#paused) return
    this.#paused = false
    this.#drain()
    if (this.#paused) return
    if (this.#closeDeferred) this.#reportDeferredClose()
    else if (!this.#closed) this.socket.resume()
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
  }

  /** Flushes, ends the socket, and destroys it if the remote has not closed within 1 s. */
  close(): Promise<void> {
    if (!this.#closed) {
      this.flush()
      this.#closed = true
      this.socket.end()
      const timer = setTimeout(() => this.socket.destroy(), CLOSE_GRACE)
      timer.unref()
    }
    this.#reportDeferredClose()
    return this.#closedPromise
  }

  /** Tears the socket down at once; `error` reaches `onClose`. */
  destroy(error?: Error): void {
    if (error) this.#closeError ??= error
    this.#closed = true
    this.socket.destroy()
    this.#reportDeferredClose()
  }

  /** Resolves once the socket has closed. */
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
      return snappyDecompress(raw, this.#maxMessageSize)
    } catch (err) {
      if (code === DISCONNECT_CODE && raw.length <= 2) return raw
      throw err
    }
  }

  #drain(): void {
    const reader = this.#reader!
    if (!this.#handlers) return
    try {
      while (!this.#paused && (!this.#closed || this.#closeDeferred)) {
        const data = reader.next()
        if (!data) break
        const { code, offset } = decodeCode(data)
        const raw = data.subarray(offset)
        this.#handlers.onMessage(code, this.#snappy ? this.#decompress(code, raw) : raw)
      }
    } catch (err) {
      log('%s %s: closing', this.remoteAddress, (err as Error).message)
      this.destroy(err as Error)
    }
  }
}
