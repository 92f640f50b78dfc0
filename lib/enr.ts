/**
 * Ethereum Node Records (EIP-778) with the "v4" identity scheme: a signed, versioned list of
 * key/value pairs that says who a node is (its secp256k1 key) and where to reach it (`ip`,
 * `udp`, `tcp`, `ip6`, `udp6`, `tcp6`).
 *
 * A record is `RLP([signature, seq, k1, v1, k2, v2, …])`, at most 300 bytes, keys sorted and
 * unique; the signature is secp256k1 r‖s over keccak256(RLP([seq, k1, v1, …])). Decoding
 * refuses what go-ethereum's `enr.Record` refuses (size, order, duplicates, non-canonical
 * integers) and always verifies the signature: an {@link Enr} object is a record whose
 * signer is known.
 * @module
 */
import { isIPv6 } from 'node:net'
import { RLP, type Input } from '@ethereumjs/rlp'
import { compressPublicKey, decompressPublicKey, keccak256, publicKeyOf, sign, verify } from './crypto/index.js'
import { bytesToIp, ipToBytes } from './discover/ip.js'
import { Devp2pError } from './errors.js'
import { bigUint, uint, type RlpItem } from './message.js'

/** The largest encoded record EIP-778 allows. */
export const ENR_MAX_SIZE = 300

/** A record could not be decoded, is not validly signed, or breaks EIP-778's rules. */
export class InvalidEnrError extends Devp2pError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('ERR_INVALID_ENR', message, options)
  }
}

/** The pairs of a record besides the signature and identity: what {@link Enr.create} signs. */
export interface EnrFields {
  /** IPv4 address (dotted). */
  ip?: string
  /** UDP (discovery) port for `ip`. */
  udp?: number
  /** TCP (RLPx) port for `ip`. */
  tcp?: number
  /** IPv6 address. */
  ip6?: string
  /** UDP port for `ip6`. */
  udp6?: number
  /** TCP port for `ip6`. */
  tcp6?: number
  /** Further entries, each an RLP item (a byte string or a list), keyed by name. */
  extra?: Record<string, RlpItem>
}

const SCHEME_V4 = 'v4'
const TEXT_PREFIX = 'enr:'
const BASE64URL = /^[A-Za-z0-9_-]*$/

/** A decoded, signature-checked node record. Immutable: a change is a new record with a higher seq. */
export class Enr {
  /** The sequence number; a node raises it with every change of its record. */
  readonly seq: bigint
  /** The 64-byte signature r‖s. */
  readonly signature: Buffer
  /** The node's 64-byte public key (X‖Y), from the `secp256k1` entry. */
  readonly publicKey: Buffer
  /** The node id: hex keccak256 of {@link publicKey}. */
  readonly id: string
  readonly #pairs: Map<string, RlpItem>
  readonly #raw: Buffer

  private constructor(seq: bigint, signature: Buffer, publicKey: Buffer, pairs: Map<string, RlpItem>, raw: Buffer) {
    this.seq = seq
    this.signature = signature
    this.publicKey = publicKey
    this.id = keccak256(publicKey).toString('hex')
    this.#pairs = pairs
    this.#raw = raw
  }

  /**
   * Builds and signs a record with the "v4" scheme.
   * @throws {InvalidEnrError} when a field is malformed or the record would exceed 300 bytes
   */
  static create(privateKey: Uint8Array, seq: bigint | number, fields: EnrFields): Enr {
    const pairs = new Map<string, RlpItem>()
    for (const [key, value] of Object.entries(fields.extra ?? {})) pairs.set(key, value)
    pairs.set('id', Buffer.from(SCHEME_V4))
    pairs.set('secp256k1', compressPublicKey(publicKeyOf(privateKey)))
    if (fields.ip !== undefined) pairs.set('ip', ipBytes(fields.ip, 4))
    if (fields.ip6 !== undefined) pairs.set('ip6', ipBytes(fields.ip6, 16))
    for (const key of ['udp', 'tcp', 'udp6', 'tcp6'] as const) {
      const port = fields[key]
      if (port === undefined) continue
      if (!Number.isInteger(port) || port < 0 || port > 0xffff) throw new InvalidEnrError(`${key} must be a port 0..65535, got ${port}`)
      pairs.set(key, uintBytes(BigInt(port)))
    }
    const seqBig = BigInt(seq)
    if (seqBig < 0n || seqBig >= 1n << 64n) throw new InvalidEnrError(`seq must be a uint64, got ${seq}`)
    const keys = [...pairs.keys()].sort(compareKeys)
    const content: Input[] = [seqBig]
    for (const key of keys) content.push(Buffer.from(key, 'latin1'), pairs.get(key)!)
    const signature = sign(keccak256(RLP.encode(content)), privateKey).subarray(0, 64)
    const raw = Buffer.from(RLP.encode([signature, ...content]))
    if (raw.length > ENR_MAX_SIZE) throw new InvalidEnrError(`record is ${raw.length} bytes, more than the ${ENR_MAX_SIZE} EIP-778 allows`)
    const sorted = new Map(keys.map((k) => [k, pairs.get(k)!]))
    return new Enr(seqBig, Buffer.from(signature), publicKeyOf(privateKey), sorted, raw)
  }

  /**
   * Decodes an RLP-encoded record and verifies its signature.
   * @throws {InvalidEnrError} saying what is wrong: size, RLP, key order, duplicate key,
   *   unknown identity scheme, bad key or bad signature
   */
  static decode(bytes: Uint8Array): Enr {
    if (bytes.length > ENR_MAX_SIZE) throw new InvalidEnrError(`record is ${bytes.length} bytes, more than the ${ENR_MAX_SIZE} EIP-778 allows`)
    let items: unknown
    try {
      items = RLP.decode(bytes)
    } catch (err) {
      throw new InvalidEnrError(`record is not valid RLP (${(err as Error).message})`, { cause: err })
    }
    return Enr.fromItem(items as RlpItem, Buffer.from(bytes))
  }

  /**
   * Builds a record from an already-decoded RLP list (as it arrives inside an ENRResponse),
   * with the same checks as {@link decode}; `raw` is its encoding when the caller has it.
   * @throws {InvalidEnrError}
   */
  static fromItem(item: RlpItem, raw: Buffer = Buffer.from(RLP.encode(item))): Enr {
    if (!Array.isArray(item)) throw new InvalidEnrError('record must be an RLP list')
    if (raw.length > ENR_MAX_SIZE) throw new InvalidEnrError(`record is ${raw.length} bytes, more than the ${ENR_MAX_SIZE} EIP-778 allows`)
    if (item.length < 2) throw new InvalidEnrError('record has no signature and seq')
    if (item.length % 2 !== 0) throw new InvalidEnrError('record has a key without a value')
    const [sigItem, seqItem, ...kv] = item
    if (!(sigItem instanceof Uint8Array)) throw new InvalidEnrError('signature must be a byte string')
    const seq = seqOf(seqItem!)
    const pairs = new Map<string, RlpItem>()
    let previous: string | undefined
    for (let i = 0; i < kv.length; i += 2) {
      const keyItem = kv[i]!
      if (!(keyItem instanceof Uint8Array)) throw new InvalidEnrError('record keys must be byte strings')
      const key = Buffer.from(keyItem).toString('latin1')
      if (previous !== undefined) {
        const order = compareKeys(previous, key)
        if (order === 0) throw new InvalidEnrError(`record has duplicate key ${JSON.stringify(key)}`)
        if (order > 0) throw new InvalidEnrError(`record keys are not sorted (${JSON.stringify(key)} after ${JSON.stringify(previous)})`)
      }
      previous = key
      pairs.set(key, kv[i + 1]!)
    }
    const scheme = pairs.get('id')
    if (!(scheme instanceof Uint8Array)) throw new InvalidEnrError('record has no identity scheme ("id" entry)')
    if (Buffer.from(scheme).toString('latin1') !== SCHEME_V4) {
      throw new InvalidEnrError(`unknown identity scheme ${JSON.stringify(Buffer.from(scheme).toString('latin1'))}; only "v4" is supported`)
    }
    const compressed = pairs.get('secp256k1')
    if (!(compressed instanceof Uint8Array) || compressed.length !== 33) throw new InvalidEnrError('record has no 33-byte "secp256k1" entry')
    let publicKey: Buffer
    try {
      publicKey = decompressPublicKey(compressed)
    } catch (err) {
      throw new InvalidEnrError('the "secp256k1" entry is not a point on the curve', { cause: err })
    }
    if (sigItem.length !== 64) throw new InvalidEnrError('invalid signature on node record (want 64 bytes r‖s)')
    const content = RLP.encode(item.slice(1))
    if (!verify(keccak256(content), sigItem, publicKey)) throw new InvalidEnrError('invalid signature on node record')
    return new Enr(seq, Buffer.from(sigItem), publicKey, pairs, raw)
  }

  /**
   * Parses the text form `enr:<base64url, no padding>`.
   * @throws {InvalidEnrError} for a missing prefix, bad base64 or any {@link decode} error
   */
  static parse(text: string): Enr {
    if (typeof text !== 'string' || !text.startsWith(TEXT_PREFIX)) throw new InvalidEnrError("missing 'enr:' prefix for base64-encoded record")
    const body = text.slice(TEXT_PREFIX.length)
    if (body === '') throw new InvalidEnrError('empty record after enr: (EOF)')
    // Buffer's decoder skips characters it does not know; geth's RawURLEncoding refuses them
    if (!BASE64URL.test(body) || body.length % 4 === 1) throw new InvalidEnrError('illegal base64 data in record (want URL-safe base64 without padding)')
    return Enr.decode(Buffer.from(body, 'base64url'))
  }

  /** The RLP encoding (the exact bytes that were signed, for a decoded record). */
  encode(): Buffer {
    return this.#raw
  }

  /** The text form `enr:…`. */
  toString(): string {
    return TEXT_PREFIX + this.#raw.toString('base64url')
  }

  /** The keys present, in record order. */
  keys(): string[] {
    return [...this.#pairs.keys()]
  }

  /** The raw RLP item stored under `key`, or undefined. */
  get(key: string): RlpItem | undefined {
    return this.#pairs.get(key)
  }

  /** The IPv4 address, or undefined when absent or malformed. */
  get ip(): string | undefined {
    return ipText(this.#pairs.get('ip'), 4)
  }

  /** The IPv6 address, or undefined when absent or malformed. */
  get ip6(): string | undefined {
    return ipText(this.#pairs.get('ip6'), 16)
  }

  /** The UDP port for `ip`, or undefined when absent or malformed. */
  get udp(): number | undefined {
    return portOf(this.#pairs.get('udp'))
  }

  /** The TCP port for `ip`, or undefined when absent or malformed. */
  get tcp(): number | undefined {
    return portOf(this.#pairs.get('tcp'))
  }

  /** The UDP port for `ip6`, or undefined when absent or malformed. */
  get udp6(): number | undefined {
    return portOf(this.#pairs.get('udp6'))
  }

  /** The TCP port for `ip6`, or undefined when absent or malformed. */
  get tcp6(): number | undefined {
    return portOf(this.#pairs.get('tcp6'))
  }
}

/** Keys compare bytewise; latin1 strings keep one code unit per byte, so `<` is bytewise. */
function compareKeys(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0
}

function seqOf(item: RlpItem): bigint {
  if (item instanceof Uint8Array && item.length > 8) throw new InvalidEnrError('seq does not fit in 64 bits')
  try {
    return bigUint(item, 'seq')
  } catch (err) {
    throw new InvalidEnrError((err as Error).message, { cause: err })
  }
}

/** Minimal big-endian bytes of an unsigned integer, as a decoded record holds its port entries. */
function uintBytes(n: bigint): Buffer {
  if (n === 0n) return Buffer.alloc(0)
  const hex = n.toString(16)
  return Buffer.from(hex.length % 2 ? `0${hex}` : hex, 'hex')
}

function ipBytes(ip: string, length: 4 | 16): Buffer {
  const bytes = ipToBytes(ip)
  if (length === 4 && bytes?.length === 4) return bytes
  // an IPv4-mapped address under ip6 keeps its 16-byte form
  if (length === 16 && isIPv6(ip) && bytes) return bytes.length === 16 ? bytes : Buffer.concat([Buffer.from('00000000000000000000ffff', 'hex'), bytes])
  throw new InvalidEnrError(`${length === 4 ? 'ip must be an IPv4' : 'ip6 must be an IPv6'} address, got ${JSON.stringify(ip)}`)
}

function ipText(item: RlpItem | undefined, length: 4 | 16): string | undefined {
  return item instanceof Uint8Array && item.length === length ? bytesToIp(item) : undefined
}

function portOf(item: RlpItem | undefined): number | undefined {
  try {
    return uint(item, 'port', 2)
  } catch {
    return undefined
  }
}
