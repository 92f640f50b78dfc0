/**
 * A node as discovery knows it: its key and id, its endpoint, and its signed record when
 * one was fetched. Plus the XOR metric the table and lookups sort by.
 * @module
 */
import { keccak256 } from '../crypto/index.js'
import type { Enode } from '../enode.js'
import type { Enr } from '../enr.js'

/** A discovered node. Immutable: a changed endpoint or record is a new object. */
export interface NodeInfo {
  /** Node id: hex keccak256 of the public key (64 characters). */
  readonly id: string
  /** The id as 32 bytes, for distances. */
  readonly idBytes: Buffer
  /** The 64-byte secp256k1 public key. */
  readonly publicKey: Buffer
  /** IP address (canonical text). */
  readonly ip: string
  /** Discovery (UDP) port. */
  readonly udp: number
  /** RLPx (TCP) port; 0 when the node does not accept connections. */
  readonly tcp: number
  /** The node's signed record, once fetched with an ENRRequest or given as `enr:`. */
  readonly record?: Enr
}

/** Builds a {@link NodeInfo}; `record`, when given, must belong to `publicKey`. */
export function makeNode(publicKey: Buffer, ip: string, udp: number, tcp: number, record?: Enr): NodeInfo {
  const idBytes = keccak256(publicKey)
  return { id: idBytes.toString('hex'), idBytes, publicKey, ip, udp, tcp, ...(record && { record }) }
}

/** The node as an {@link Enode} (what the server dials): key, id, IP, ports, record. */
export function toEnode(node: NodeInfo): Enode {
  return {
    publicKey: node.publicKey,
    id: node.id,
    host: node.ip,
    udpPort: node.udp,
    ...(node.tcp > 0 && { tcpPort: node.tcp }),
    ...(node.record && { record: node.record }),
  }
}

/** The record's seq, 0 when no record is known (as geth shows nodes learned from packets). */
export function seqOf(node: NodeInfo): bigint {
  return node.record?.seq ?? 0n
}

/** `ip:port` of a node's discovery endpoint, IPv6 in brackets. */
export function udpAddress(node: { ip: string; udp: number }): string {
  return node.ip.includes(':') ? `[${node.ip}]:${node.udp}` : `${node.ip}:${node.udp}`
}

/** The log₂ XOR distance of two 32-byte ids: 0 when equal, 256 when the top bit differs. */
export function logDistance(a: Uint8Array, b: Uint8Array): number {
  for (let i = 0; i < 32; i++) {
    const x = a[i]! ^ b[i]!
    if (x !== 0) return (31 - i) * 8 + (32 - Math.clz32(x))
  }
  return 0
}

/** Compares the XOR distances of `a` and `b` to `target`: negative when `a` is closer. */
export function distanceCompare(target: Uint8Array, a: Uint8Array, b: Uint8Array): number {
  for (let i = 0; i < 32; i++) {
    const da = a[i]! ^ target[i]!
    const db = b[i]! ^ target[i]!
    if (da !== db) return da - db
  }
  return 0
}

/**
 * A list kept sorted by distance to a target and cut at a size: geth's `nodesByDistance`,
 * the result set of lookups and FindNode answers.
 */
export class NodesByDistance<T extends { idBytes: Uint8Array }> {
  readonly entries: T[] = []

  constructor(
    readonly target: Uint8Array,
    readonly max: number,
  ) {}

  /** Inserts `node` at its place; the farthest falls off when the list is full. */
  push(node: T): void {
    let lo = 0
    let hi = this.entries.length
    while (lo < hi) {
      const mid = (lo + hi) >> 1
      if (distanceCompare(this.target, this.entries[mid]!.idBytes, node.idBytes) > 0) hi = mid
      else lo = mid + 1
    }
    if (lo >= this.max) return
    this.entries.splice(lo, 0, node)
    if (this.entries.length > this.max) this.entries.pop()
  }
}
