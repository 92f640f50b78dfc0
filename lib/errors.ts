/**
 * Every error this library throws or rejects with. Each has a stable `code` so callers can
 * branch without parsing messages; subclasses exist so `instanceof` works too.
 * @module
 */

/** The base class of all devp2p-ts errors. */
export class Devp2pError extends Error {
  /** A stable, machine-readable identifier such as `ERR_FRAME_MAC`. */
  readonly code: string

  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options)
    this.code = code
    this.name = new.target.name
  }
}

/** Base class of the ways the RLPx encryption handshake can fail. */
export class HandshakeError extends Devp2pError {}

/** The handshake did not finish within the configured timeout. */
export class HandshakeTimeoutError extends HandshakeError {
  constructor(ms: number) {
    super('ERR_HANDSHAKE_TIMEOUT', `RLPx handshake did not complete within ${ms} ms`)
  }
}

/** An auth or ack packet was shorter than the format allows or declared a size above 2048. */
export class HandshakePacketSizeError extends HandshakeError {
  constructor(message: string) {
    super('ERR_HANDSHAKE_PACKET_SIZE', message)
  }
}

/** ECIES decryption failed: bad ephemeral key, wrong recipient, or the HMAC tag did not match. */
export class EciesError extends HandshakeError {
  constructor(message: string) {
    super('ERR_ECIES', message)
  }
}

/** The auth signature did not recover a valid ephemeral key. */
export class HandshakeSignatureError extends HandshakeError {
  constructor(message: string) {
    super('ERR_HANDSHAKE_SIGNATURE', message)
  }
}

/** A decrypted handshake packet held malformed RLP or fields of the wrong size. */
export class HandshakeFormatError extends HandshakeError {
  constructor(message: string) {
    super('ERR_HANDSHAKE_FORMAT', message)
  }
}

/** The remote closed the socket before the handshake finished. */
export class HandshakeClosedError extends HandshakeError {
  constructor(message: string) {
    super('ERR_HANDSHAKE_CLOSED', message)
  }
}

/**
 * The remote is not the node we meant to reach: its Hello carries a key other than the one
 * the handshake proved, or the node we dialled answered with another identity.
 */
export class UnexpectedIdentityError extends HandshakeError {
  constructor(message: string) {
    super('ERR_UNEXPECTED_IDENTITY', message)
  }
}

/** `handshake()` was called a second time on the same connection. */
export class HandshakeRepeatedError extends HandshakeError {
  constructor() {
    super('ERR_HANDSHAKE_REPEATED', 'handshake() may be called only once per connection; open a new connection instead')
  }
}

/** A dial failed before any handshake: refused, unreachable, reset. */
export class DialError extends Devp2pError {
  constructor(address: string, message: string, options?: { cause?: unknown }) {
    super('ERR_DIAL', `dial ${address} failed: ${message}`, options)
  }
}

/** A dial's connect did not finish within `dialTimeout`. */
export class DialTimeoutError extends Devp2pError {
  constructor(address: string, ms: number) {
    super('ERR_DIAL_TIMEOUT', `dial ${address} timed out after ${ms} ms; check the address and that the node is reachable`)
  }
}

/** The remote did not take our writes: its socket made no progress within `writeTimeout`. */
export class WriteTimeoutError extends Devp2pError {
  constructor(ms: number, backlog: number) {
    super('ERR_WRITE_TIMEOUT', `the peer read nothing for ${ms} ms while ${backlog} bytes waited to be written`)
  }
}

/** Writes to one peer queued more bytes than `maxWriteBuffer` allows. */
export class WriteBufferFullError extends Devp2pError {
  constructor(bytes: number, limit: number) {
    super('ERR_WRITE_BUFFER_FULL', `${bytes} bytes queued for the peer exceed maxWriteBuffer (${limit}); it does not read fast enough`)
  }
}

/** A frame's header or body MAC did not match: the stream is corrupt or tampered with. */
export class FrameMacError extends Devp2pError {
  constructor(part: 'header' | 'body') {
    super('ERR_FRAME_MAC', `RLPx frame ${part} MAC mismatch; the connection was closed`)
  }
}

/** A frame, message or declared decompressed length is larger than the protocol allows. */
export class MessageTooLargeError extends Devp2pError {
  constructor(message: string) {
    super('ERR_MESSAGE_TOO_LARGE', message)
  }
}

/** A message could not be decoded (bad RLP, bad snappy data, wrong shape). */
export class MessageDecodeError extends Devp2pError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('ERR_MESSAGE_DECODE', message, options)
  }
}

/** A protocol wrote a message code outside `0 … length − 1`. */
export class InvalidMessageCodeError extends Devp2pError {
  constructor(protocol: string, code: number, length: number) {
    super(
      'ERR_INVALID_MESSAGE_CODE',
      `message code ${code} is out of range for protocol "${protocol}" (valid codes are 0..${length - 1})`,
    )
  }
}

/** A constructor or method option is missing or invalid; the message names the option. */
export class InvalidOptionError extends Devp2pError {
  constructor(option: string, message: string) {
    super('ERR_INVALID_OPTION', `invalid option "${option}": ${message}`)
  }
}

/** An enode URL could not be parsed. */
export class InvalidEnodeError extends Devp2pError {
  constructor(input: string, message: string) {
    super('ERR_INVALID_ENODE', `invalid enode URL ${JSON.stringify(input.slice(0, 200))}: ${message}`)
  }
}

/** A server method was called in a state that does not allow it (not started, stopped). */
export class ServerStateError extends Devp2pError {
  constructor(message: string) {
    super('ERR_SERVER_STATE', message)
  }
}
