/**
 * Sub-protocols and capability matching: shared caps are matched by name and the highest
 * common version, sorted by name, and packed into message ids after the 16 reserved ones.
 * @module
 */
import type { MsgReadWriter } from './message.js'
import type { Peer } from './peer.js'

/** A capability as advertised in Hello: a name and a version. */
export interface Cap {
  name: string
  version: number
}

/**
 * A sub-protocol. The server starts `run` once for every peer that shares this capability;
 * when `run` settles, the peer is disconnected (a thrown error becomes "subprotocol error").
 */
export interface Protocol {
  /**
   * Capability name sent in Hello: printable ASCII, compared case-sensitively. rlpx.md
   * suggests at most 8 characters; up to 32 are accepted since no client enforces it.
   */
  name: string
  /** Capability version. */
  version: number
  /** How many message codes the protocol uses (codes 0 … length − 1). */
  length: number
  /** Speaks the protocol with one peer. Reads reject with `DisconnectError` when the peer goes. */
  run(peer: Peer, rw: MsgReadWriter): Promise<void> | void
  /** Optional information about this node for `Server.nodeInfo()`. */
  nodeInfo?(): unknown
}

/** Message ids 0x00–0x0f belong to the p2p base protocol. */
export const BASE_PROTOCOL_LENGTH = 16

/** A protocol matched with a peer, and the offset of its message codes on that session. */
export interface MatchedProtocol {
  protocol: Protocol
  offset: number
}

const byName = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0)

/**
 * The protocols both sides run, each at the highest version both list, with the message
 * id offsets go-ethereum's `matchProtocols` assigns.
 */
export function matchProtocols(protocols: readonly Protocol[], remoteCaps: readonly Cap[]): MatchedProtocol[] {
  const sorted = [...remoteCaps].sort((a, b) => byName(a.name, b.name) || a.version - b.version)
  const result = new Map<string, MatchedProtocol>()
  let offset = BASE_PROTOCOL_LENGTH
  for (const cap of sorted) {
    const protocol = protocols.find((p) => p.name === cap.name && p.version === cap.version)
    if (!protocol) continue
    const lower = result.get(cap.name)
    if (lower) offset -= lower.protocol.length
    result.set(cap.name, { protocol, offset })
    offset += protocol.length
  }
  return [...result.values()]
}

/** Validates a protocol definition; returns a message naming the problem, or undefined. */
export function protocolProblem(p: Protocol): string | undefined {
  if (typeof p !== 'object' || p === null) return 'must be an object'
  if (typeof p.name !== 'string' || !/^[\x21-\x7e]{1,32}$/.test(p.name)) return `name ${JSON.stringify(p.name)} must be 1-32 printable ASCII characters`
  if (!Number.isSafeInteger(p.version) || p.version < 0) return `"${p.name}" version must be a non-negative integer`
  if (!Number.isSafeInteger(p.length) || p.length < 1) return `"${p.name}" length must be a positive integer`
  if (typeof p.run !== 'function') return `"${p.name}" must have a run(peer, rw) function`
  return undefined
}
