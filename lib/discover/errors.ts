/**
 * The errors discovery throws or rejects with, each a {@link Devp2pError} with a stable code.
 * @module
 */
import { Devp2pError } from '../errors.js'

/** A datagram is not a valid discv4 packet: too small or large, bad hash or signature, bad RLP. */
export class DiscPacketError extends Devp2pError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('ERR_DISC_PACKET', message, options)
  }
}

/** A request (ping, findnode, ENR request) got no matching reply in time. */
export class DiscTimeoutError extends Devp2pError {
  constructor(what: string, ms: number) {
    super('ERR_DISC_TIMEOUT', `${what}: no reply within ${ms} ms (RPC timeout)`)
  }
}

/** Nothing answered a discovery ping at an address, so its node key cannot be learned. */
export class NoDiscoveryError extends Devp2pError {
  /** The address that was pinged, `host:port`. */
  readonly address: string

  constructor(address: string) {
    super('ERR_NO_DISCOVERY', `no discovery at ${address}; ask for its enode`)
    this.address = address
  }
}

/**
 * The node at an address answered with a key other than the one learned there before (trust
 * on first use). Either the node was re-keyed or someone else holds the address now.
 */
export class IdentityChangedError extends Devp2pError {
  /** `host:port` whose identity changed. */
  readonly address: string
  /** The node id remembered for it. */
  readonly knownId: string
  /** The node id that answered now. */
  readonly newId: string

  constructor(address: string, knownId: string, newId: string) {
    super(
      'ERR_IDENTITY_CHANGED',
      `the node at ${address} answered as ${newId.slice(0, 16)}…, but it was ${knownId.slice(0, 16)}… before; ` +
        'if it really changed its key, connect with its new enode URL (or call forgetAddress) to trust it',
    )
    this.address = address
    this.knownId = knownId
    this.newId = newId
  }
}

/** A node record returned by a node is invalid, not its own, or points somewhere it may not. */
export class InvalidRecordResponseError extends Devp2pError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('ERR_DISC_RECORD', message, options)
  }
}

/** A discovery method was called before `start()` or after `stop()`. */
export class DiscoveryStateError extends Devp2pError {
  constructor(message: string) {
    super('ERR_DISC_STATE', message)
  }
}
