/**
 * Our own node record: the endpoint we advertise and the signed ENR that carries it. The
 * record is re-signed with `seq + 1` whenever the endpoint changes, and the seq is stored
 * so it keeps rising across restarts.
 *
 * The advertised IP is, in order: the static IP (`extip`), the IP peers agree they see us at
 * (learned from Pongs, see {@link IpTracker}), the fallback chosen at start (listen address
 * or default-route interface).
 * @module
 */
import type { Clock } from '../clock.js'
import { publicKeyOf } from '../crypto/index.js'
import { Enr, type EnrFields } from '../enr.js'
import { isLoopback } from '../netutil.js'
import { isV4, relayIpError } from './ip.js'
import { IpTracker } from './iptrack.js'
import { makeNode, type NodeInfo } from './node.js'

/** Options of {@link LocalNode}. */
export interface LocalNodeOptions {
  privateKey: Uint8Array
  clock: Clock
  /** The seq of the last record we signed (from the node database); 0 or absent = none. */
  storedSeq?: bigint
  /** The IP to advertise until peers tell us better. */
  fallbackIp: string
  /** An IP to advertise whatever peers say (`extip`). */
  staticIp?: string
  udp: number
  tcp: number
  /** Distinct peers that must agree on our address before we adopt it. @default 2 */
  minStatements?: number
  /** Called with every newly signed record. */
  onRecord?: (record: Enr) => void
}

/** See the module comment. */
export class LocalNode {
  readonly publicKey: Buffer
  readonly #privateKey: Uint8Array
  readonly #tracker: IpTracker
  readonly #onRecord: ((record: Enr) => void) | undefined
  #fallbackIp: string
  readonly #staticIp: string | undefined
  #udp: number
  #tcp: number
  #predicted: { ip: string; port?: number } | undefined
  #record: Enr

  constructor(options: LocalNodeOptions) {
    this.#privateKey = options.privateKey
    this.publicKey = publicKeyOf(options.privateKey)
    this.#tracker = new IpTracker({ clock: options.clock, minStatements: options.minStatements ?? 2 })
    this.#onRecord = options.onRecord
    this.#fallbackIp = options.fallbackIp
    this.#staticIp = options.staticIp
    this.#udp = options.udp
    this.#tcp = options.tcp
    // geth starts from the clock in ms when nothing is stored, so a seq never repeats after a restart
    const base = options.storedSeq && options.storedSeq > 0n ? options.storedSeq : BigInt(options.clock.now())
    this.#record = this.#sign(base + 1n)
  }

  /** The current signed record. */
  get record(): Enr {
    return this.#record
  }

  /** The advertised endpoint. */
  get endpoint(): { ip: string; udp: number; tcp: number } {
    return { ip: this.ip, udp: this.#predicted?.port ?? this.#udp, tcp: this.#tcp }
  }

  /** The advertised IP. */
  get ip(): string {
    return this.#staticIp ?? this.#predicted?.ip ?? this.#fallbackIp
  }

  /** Ourselves as a node (for logs and self-checks). */
  get node(): NodeInfo {
    const e = this.endpoint
    return makeNode(this.publicKey, e.ip, e.udp, e.tcp, this.#record)
  }

  /**
   * Changes the advertised ports or fallback IP (the server learned its real TCP port, say);
   * re-signs the record when that changes it.
   */
  setEndpoint(change: { fallbackIp?: string; udp?: number; tcp?: number }): void {
    if (change.fallbackIp !== undefined) this.#fallbackIp = change.fallbackIp
    if (change.udp !== undefined) this.#udp = change.udp
    if (change.tcp !== undefined) this.#tcp = change.tcp
    this.#update()
  }

  /**
   * A remote host (`from`, the IP its packet came from) says it sees us at `ip:port`.
   * Statements a host could not honestly make — a LAN address from a WAN host, a loopback
   * address while we advertise a real one — are ignored.
   */
  endpointStatement(from: string, ip: string | undefined, port: number): void {
    if (ip === undefined || relayIpError(from, ip) !== undefined) return
    if (isLoopback(ip) && !isLoopback(this.#fallbackIp)) return
    if (isV4(ip) !== isV4(this.#fallbackIp)) return
    this.#tracker.addStatement(from, ip, port)
    const p = this.#tracker.predict()
    if (p?.ip === this.#predicted?.ip && p?.port === this.#predicted?.port) return
    this.#predicted = p
    this.#update()
  }

  #update(): void {
    const next = this.#fields()
    const cur = this.#record
    if (next.ip === cur.ip && next.ip6 === cur.ip6 && (next.udp ?? next.udp6) === (cur.udp ?? cur.udp6) && (next.tcp ?? next.tcp6) === (cur.tcp ?? cur.tcp6)) return
    this.#record = this.#sign(cur.seq + 1n)
    this.#onRecord?.(this.#record)
  }

  #fields(): EnrFields {
    const { ip, udp, tcp } = this.endpoint
    const v4 = isV4(ip)
    return {
      ...(v4 ? { ip, udp } : { ip6: ip, udp6: udp }),
      ...(tcp > 0 && (v4 ? { tcp } : { tcp6: tcp })),
    }
  }

  #sign(seq: bigint): Enr {
    return Enr.create(this.#privateKey, seq, this.#fields())
  }
}
