/**
 * Disconnect reasons of the p2p base protocol, their human-readable names, and the error
 * that pending reads and writes reject with once a peer is gone.
 * @module
 */
import { Devp2pError, FrameMacError, HandshakeTimeoutError, InvalidMessageCodeError, MessageDecodeError, MessageTooLargeError, WriteBufferFullError, WriteTimeoutError } from './errors.js'
import { uint, type RlpItem } from './message.js'
import { decodeRlp, FIXED_SHAPE_MAX_ITEMS } from './rlp.js'

/** The reason codes of the p2p Disconnect message (rlpx.md). */
export enum DiscReason {
  Requested = 0x00,
  NetworkError = 0x01,
  ProtocolError = 0x02,
  UselessPeer = 0x03,
  TooManyPeers = 0x04,
  AlreadyConnected = 0x05,
  IncompatibleVersion = 0x06,
  InvalidIdentity = 0x07,
  Quitting = 0x08,
  UnexpectedIdentity = 0x09,
  Self = 0x0a,
  ReadTimeout = 0x0b,
  SubprotocolError = 0x10,
}

const TEXT: Record<number, string> = {
  [DiscReason.Requested]: 'disconnect requested',
  [DiscReason.NetworkError]: 'network error',
  [DiscReason.ProtocolError]: 'breach of protocol',
  [DiscReason.UselessPeer]: 'useless peer',
  [DiscReason.TooManyPeers]: 'too many peers',
  [DiscReason.AlreadyConnected]: 'already connected',
  [DiscReason.IncompatibleVersion]: 'incompatible p2p protocol version',
  [DiscReason.InvalidIdentity]: 'invalid node identity',
  [DiscReason.Quitting]: 'client quitting',
  [DiscReason.UnexpectedIdentity]: 'unexpected identity',
  [DiscReason.Self]: 'connected to self',
  [DiscReason.ReadTimeout]: 'read timeout',
  [DiscReason.SubprotocolError]: 'subprotocol error',
}

/** The spec's wording for a reason code, e.g. `too many peers`; unknown codes are shown in hex. */
export function reasonText(reason: number): string {
  return TEXT[reason] ?? `unknown reason 0x${reason.toString(16)}`
}

/**
 * Decodes a Disconnect payload: `[reason]` as the spec says, or the bare integer some old
 * clients send. Returns `undefined` when the payload holds neither.
 */
export function decodeDisconnectReason(payload: Uint8Array): number | undefined {
  if (payload.length === 0) return undefined
  let decoded: unknown
  try {
    decoded = decodeRlp(payload, { trailing: true, maxItems: FIXED_SHAPE_MAX_ITEMS })
  } catch {
    return undefined
  }
  const item = Array.isArray(decoded) ? decoded[0] : decoded
  try {
    return uint(item as RlpItem, 'Disconnect reason', 1)
  } catch {
    return undefined
  }
}

/**
 * A peer connection ended. Pending and later `readMsg()`/`writeMsg()` calls on that peer
 * reject with this; `remote` tells whether the remote side chose the reason.
 */
export class DisconnectError extends Devp2pError {
  readonly reason: DiscReason
  readonly remote: boolean

  constructor(reason: DiscReason, remote: boolean, peerId?: string) {
    super(
      'ERR_DISCONNECTED',
      `peer ${peerId ? `${peerId.slice(0, 8)} ` : ''}disconnected: ${reasonText(reason)} (${remote ? 'by the remote side' : 'by this node'})`,
    )
    this.reason = reason
    this.remote = remote
  }
}

/** A Disconnect reason and who chose it. */
export interface Blame {
  reason: DiscReason
  /** True when the remote side chose it (sent Disconnect, or closed or reset the connection). */
  remote: boolean
}

/**
 * The reason a session ends with for `error`, and who chose it — the one place that maps
 * errors to reasons, as go-ethereum's `discReasonForError` does. What we find wrong with the
 * input (a bad MAC, an oversized frame, bad snappy or RLP, a code outside every protocol) is
 * our decision: breach of protocol. A peer that does not read is ours too: network error.
 * A closed or reset socket (`undefined`, or a system error) is the remote's doing. Any other
 * error comes from a protocol's `run`: subprotocol error.
 */
export function reasonForError(error: unknown): Blame {
  if (error instanceof DisconnectError) return { reason: error.reason, remote: error.remote }
  if (error === undefined || (error instanceof Error && 'syscall' in error)) return { reason: DiscReason.NetworkError, remote: true }
  if (error instanceof FrameMacError || error instanceof MessageTooLargeError || error instanceof MessageDecodeError || error instanceof InvalidMessageCodeError) {
    return { reason: DiscReason.ProtocolError, remote: false }
  }
  if (error instanceof WriteTimeoutError || error instanceof WriteBufferFullError) return { reason: DiscReason.NetworkError, remote: false }
  if (error instanceof HandshakeTimeoutError) return { reason: DiscReason.ReadTimeout, remote: false }
  return { reason: DiscReason.SubprotocolError, remote: false }
}
