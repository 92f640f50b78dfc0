/**
 * The seam between the server and the wire. The server and its peers speak to a
 * {@link Connection} (messages in, messages out, an encryption handshake that proves the
 * remote's key) that a {@link Transport} opens or accepts. The default transport is TCP with
 * RLPx (`tcpTransport`); the simulator plugs in an in-memory one, with or without the
 * RLPx crypto, under the same server, peer and protocol code.
 * @module
 */
import type { Clock } from './clock.js'
import type { UdpTransport } from './discover/transport.js'

/** What a connection reports upward once started. */
export interface ConnectionHandlers {
  /** A decoded message; `payload` is uncompressed. */
  onMessage(code: number, payload: Buffer): void
  /**
   * Input could not be decoded (a bad MAC, an oversized frame, bad snappy): the connection
   * reads no more, but its egress side still works, so the owner can say why before closing.
   * Without this handler the connection is destroyed with the error, which reaches `onClose`.
   */
  onError?(error: Error): void
  /** The connection is gone; `error` says why when the remote did not close it cleanly. */
  onClose(error?: Error): void
  /** The operating system has taken what was queued (writers waiting for room may go on). */
  onDrain?(): void
}

/** A connection to one remote node that carries devp2p messages. */
export interface Connection {
  /** True when we dialled. */
  readonly initiator: boolean
  /** `ip:port` (or `[ip6]:port`) of the remote end, kept after the connection is gone. */
  readonly remoteAddress: string
  /** The remote IP alone, for per-address limits. */
  readonly remoteIp: string
  /** True once the encryption handshake is done: messages, a Disconnect included, can be sent. */
  readonly established: boolean
  /** Bytes queued for the remote and not yet taken by the operating system. */
  readonly backlog: number
  /** True when received bytes wait unread (the connection is paused with input buffered). */
  readonly inputWaiting: boolean
  /** Resolves once the connection has closed. */
  readonly closed: Promise<void>
  /**
   * Runs the encryption handshake; resolves with the remote's 64-byte public key.
   * @throws {HandshakeError} a subclass naming what went wrong; the connection is destroyed
   */
  handshake(): Promise<Buffer>
  /** Starts delivering messages to `handlers`. */
  start(handlers: ConnectionHandlers): void
  /** Hands the stream to new handlers (the peer, once Hello is done). */
  setHandlers(handlers: ConnectionHandlers): void
  /**
   * Bounds incoming messages to `maxPayload` bytes (checked before allocation where the
   * format allows); without an argument, back to the configured `maxMessageSize`.
   */
  limitInput(maxPayload?: number): void
  /** From now on, compress every payload both ways (p2p v5, after Hello). */
  enableSnappy(): void
  /** Stops reading until {@link resume}: back-pressure from slow consumers. */
  pause(): void
  resume(): void
  /**
   * Queues one message; messages queued in the same turn of the event loop go out together.
   * @throws {MessageTooLargeError} when the payload exceeds `maxMessageSize`
   */
  send(code: number, payload: Uint8Array): void
  /** Flushes, closes gracefully, and destroys the connection if the remote lingers. */
  close(): Promise<void>
  /** Tears the connection down at once; `error` reaches `onClose`. */
  destroy(error?: Error): void
}

/** What a transport needs from the server that owns it. */
export interface TransportContext {
  privateKey: Buffer
  /** Largest message payload accepted or sent, bytes. */
  maxMessageSize: number
  /** How long a connection may take none of the bytes waiting for it before it is closed, ms. */
  writeTimeout: number
  clock: Clock
}

/** A bound listener. */
export interface Listener {
  /** The port actually bound (the one the OS chose for port 0). */
  readonly port: number
  close(): Promise<void>
}

/** Opens and accepts connections. */
export interface Transport {
  /**
   * Starts accepting on `host:port` (`host` undefined: every interface). `accept` receives
   * each inbound connection before its handshake; `onError` reports listener failures.
   */
  listen(host: string | undefined, port: number, accept: (conn: Connection) => void, onError: (err: Error) => void): Promise<Listener>
  /**
   * Connects to `host:port`, expecting the node whose key is `remoteKey`. Resolves before the
   * encryption handshake, which the caller runs.
   * @throws {DialError} / {@link DialTimeoutError} when the connection cannot be made
   */
  dial(host: string, port: number, remoteKey: Buffer, options: { timeout: number; signal: AbortSignal }): Promise<Connection>
  /**
   * Binds the datagram socket discovery runs on, at `host:port` beside the listener.
   * Optional: without it discovery binds a UDP socket of its own; the simulator's transport
   * gives one on its in-memory network.
   */
  bindUdp?(host: string, port: number): Promise<UdpTransport>
}

/** Makes the transport a server uses; `tcpTransport` by default. */
export type TransportFactory = (context: TransportContext) => Transport
