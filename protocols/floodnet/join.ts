/**
 * Joining the overlay: the JOIN messages, their validation, and the join decision.
 *
 * - `JOIN_REQ [token, requesterKey, host, tcpPort, hopsLeft]` walks the overlay at random.
 *   `token` is the requester's, 8 random bytes, carried unchanged; `host` is empty (and the
 *   port 0) when the requester does not listen.
 * - `JOIN_ACK [token]` is the first message on a link opened for a join, sent by the side
 *   that dialled it. The other side accepts the link only for a token it issued and has not
 *   used: a JOIN_REQ naming some third node cannot give that node a link it never asked for.
 * - `JOIN_OFFER [token, acceptorKey, host, tcpPort]` answers a JOIN_REQ from a requester
 *   that does not listen: it retraces the walk hop by hop, and the requester dials the
 *   acceptor instead.
 * @module
 */
import { randomBytes } from 'node:crypto'
import { RLP } from '@ethereumjs/rlp'
import { MessageDecodeError, nodeId, uint, type Enode, type RlpItem } from '../../lib/index.js'
import { isValidPublicKey } from '../../lib/crypto/index.js'
import { isDialableIp, type Netlist } from '../../lib/netutil.js'
import { decodeRlp, FIXED_SHAPE_MAX_ITEMS } from '../../lib/rlp.js'

/** Bytes of a join token. */
export const TOKEN_SIZE = 8

/** A decoded JOIN_REQ. */
export interface JoinRequest {
  /** The requester's token, hex. */
  token: string
  /** `host`/`tcpPort` absent when the requester does not listen. */
  requester: Enode
  hopsLeft: number
}

/** A decoded JOIN_OFFER: `acceptor` will take a link from the requester holding `token`. */
export interface JoinOffer {
  token: string
  acceptor: Enode
}

/** A fresh join token, hex. */
export function newToken(): string {
  return randomBytes(TOKEN_SIZE).toString('hex')
}

function decodeList(payload: Uint8Array, what: string, min: number): RlpItem[] {
  let list: unknown
  try {
    list = decodeRlp(payload, { maxItems: FIXED_SHAPE_MAX_ITEMS })
  } catch (err) {
    throw new MessageDecodeError(`${what} is not valid RLP: ${(err as Error).message}`)
  }
  if (!Array.isArray(list) || list.length < min) throw new MessageDecodeError(`${what} must be a list of at least ${min} items`)
  return list as RlpItem[]
}

function decodeToken(item: RlpItem | undefined, what: string): string {
  if (!(item instanceof Uint8Array) || item.length !== TOKEN_SIZE) throw new MessageDecodeError(`${what} token must be ${TOKEN_SIZE} bytes`)
  return Buffer.from(item).toString('hex')
}

/** `[key, host, port]` as an enode; an empty host with port 0 means "does not listen". */
function decodeNode(key: RlpItem | undefined, host: RlpItem | undefined, port: RlpItem | undefined, what: string): Enode {
  if (!(key instanceof Uint8Array) || key.length !== 64) throw new MessageDecodeError(`${what} key must be 64 bytes`)
  if (!(host instanceof Uint8Array) || host.length > 64) throw new MessageDecodeError(`${what} host must be at most 64 bytes`)
  const tcpPort = uint(port, `${what} port`, 2)
  if ((host.length === 0) !== (tcpPort === 0)) throw new MessageDecodeError(`${what} must give both host and port, or neither`)
  const publicKey = Buffer.from(key)
  const node: Enode = { publicKey, id: nodeId(publicKey) }
  if (host.length > 0) {
    node.host = Buffer.from(host).toString('utf8')
    node.tcpPort = tcpPort
  }
  return node
}

function encodeNode(node: Enode): (Uint8Array | string | number)[] {
  return [node.publicKey, node.host ?? '', node.host === undefined ? 0 : (node.tcpPort ?? 0)]
}

/** Encodes a JOIN_REQ. */
export function encodeJoin(req: JoinRequest): Uint8Array {
  return RLP.encode([Buffer.from(req.token, 'hex'), ...encodeNode(req.requester), req.hopsLeft])
}

/** @throws {MessageDecodeError} when the message is not a well-formed JOIN_REQ */
export function decodeJoin(payload: Uint8Array): JoinRequest {
  const [token, key, host, port, hops] = decodeList(payload, 'JOIN_REQ', 5)
  return { token: decodeToken(token, 'JOIN_REQ'), requester: decodeNode(key, host, port, 'JOIN_REQ requester'), hopsLeft: uint(hops, 'JOIN_REQ hops', 1) }
}

/** Encodes a JOIN_ACK. */
export function encodeAck(token: string): Uint8Array {
  return RLP.encode([Buffer.from(token, 'hex')])
}

/** @throws {MessageDecodeError} */
export function decodeAck(payload: Uint8Array): string {
  return decodeToken(decodeList(payload, 'JOIN_ACK', 1)[0], 'JOIN_ACK')
}

/** Encodes a JOIN_OFFER. */
export function encodeOffer(offer: JoinOffer): Uint8Array {
  return RLP.encode([Buffer.from(offer.token, 'hex'), ...encodeNode(offer.acceptor)])
}

/** @throws {MessageDecodeError} when malformed, or when the acceptor gives no address */
export function decodeOffer(payload: Uint8Array): JoinOffer {
  const [token, key, host, port] = decodeList(payload, 'JOIN_OFFER', 4)
  const acceptor = decodeNode(key, host, port, 'JOIN_OFFER acceptor')
  if (acceptor.host === undefined) throw new MessageDecodeError('JOIN_OFFER acceptor must give an address')
  return { token: decodeToken(token, 'JOIN_OFFER'), acceptor }
}

/**
 * Why we will not dial `node` on a remote's word, or undefined when we may: the key must
 * be a point on the curve, the host an IP literal naming one host (no names to resolve, no
 * 0.0.0.0, no broadcast or multicast), inside `netrestrict` when one is set.
 */
export function dialProblem(node: Enode, netrestrict: Netlist | undefined): string | undefined {
  if (!isValidPublicKey(node.publicKey)) return 'key is not a point on secp256k1'
  if (node.host === undefined || node.tcpPort === undefined) return 'no address'
  if (!isDialableIp(node.host)) return `${JSON.stringify(node.host.slice(0, 64))} is not a unicast IP address`
  if (netrestrict && !netrestrict.contains(node.host)) return `${node.host} is outside netrestrict`
  return undefined
}

/** Dials we may have in flight on behalf of the JOIN_REQs one neighbour handed us. */
export const MAX_ACCEPTS_PER_NEIGHBOUR = 2

/**
 * Where the requester of a JOIN_REQ stands with us: ourselves, an overlay neighbour, a node
 * we are dialling for a join, a contact (connected, but not an overlay link: a peer the
 * server dialled from discovery, say) or a node we have no link to.
 */
export type RequesterState = 'self' | 'neighbour' | 'dialing' | 'contact' | 'new'

/** What {@link decideJoin} looks at. */
export interface JoinState {
  /** Our overlay neighbours; dials in flight are not neighbours yet. */
  degree: number
  /** Overlay links, links dialled only to send our walks through, and our dials in flight: bounded by `maxDegree`. */
  committed: number
  desired: number
  maxDegree: number
  /** Our dials in flight for JOIN_REQs the same neighbour handed us. */
  acceptsViaSender: number
  requester: RequesterState
  /** Hops the walk had left when it reached us, capped at `joinHops`: `joinHops` at its first node, 1 at its last. */
  hopsLeft: number
  /** Our `joinHops`: the longest walk we take part in. */
  joinHops: number
  /** Our `joinMixHops`: hops a walk travels before a node on it may accept. */
  mixHops: number
  /** The walk ends here unless we accept: its last hop, or no neighbour to pass it on to. */
  lastStop: boolean
}

/**
 * True once a walk has mixed: it has travelled `mixHops` hops (so where it stops no longer
 * depends on where it started — the entry node, for a newcomer), or it cannot go on.
 */
export function walkMixed(s: JoinState): boolean {
  return s.joinHops - s.hopsLeft >= s.mixHops || s.lastStop
}

/**
 * Whether a node that may link to a requester does: the part of the join decision that
 * shapes the overlay. Pure, so the simulator runs each candidate on the same code.
 * @param random uniform in [0, 1)
 */
export type JoinPolicy = (s: JoinState, random: number) => boolean

/**
 * Join policies. `degree` is floodnet's; `seed` is the seed tutorial's, the others the
 * alternatives it argues against, kept so the simulator can measure them (`npm run sim --
 * --scenario compare-rules`). Only `degree` waits for the walk to mix.
 */
export const joinPolicies = {
  /**
   * Once the walk has mixed: below `desired` neighbours accept; at `desired` or above, with
   * probability 1/((degree + 1)(degree + 1 − desired)). A mixed walk visits a node in
   * proportion to its degree, so the seed tutorial's 1/(degree + 1) alone let well-linked
   * nodes accept about as often as the rest, and degrees piled up at `maxDegree` (a third of
   * 10,000 nodes); dividing by the excess over `desired` keeps them near it.
   */
  degree: (s: JoinState, random: number): boolean => walkMixed(s) && (s.degree < s.desired || random < 1 / ((s.degree + 1) * (s.degree + 1 - s.desired))),
  /** The seed tutorial's rule: below `desired` accept, above with probability 1/(degree + 1), wherever the walk is. */
  seed: (s: JoinState, random: number): boolean => s.degree < s.desired || random < 1 / (s.degree + 1),
  /** A walk of fixed length, accepted where it ends. */
  walk: (s: JoinState): boolean => s.lastStop,
  /** A fixed probability of accepting, whatever the degree. */
  fixed:
    (p: number) =>
    (_s: JoinState, random: number): boolean =>
      random < p,
  /** Exactly `desired` neighbours: accept only below it. */
  exact: (s: JoinState): boolean => s.degree < s.desired,
} as const

/**
 * Accept (link to the requester) or pass the request on along the walk. Never for our own
 * walk, a neighbour or a node we are dialling (a contact may be accepted: its link becomes
 * an overlay link); never beyond `maxDegree` links and dials in
 * flight; and one neighbour can keep only a few of our dials in flight, so junk requests
 * cannot make a node refuse real ones. Otherwise `policy` decides.
 * @param random uniform in [0, 1)
 */
export function decideJoin(s: JoinState, random: number, policy: JoinPolicy = joinPolicies.degree): 'accept' | 'forward' {
  if (s.requester !== 'new' && s.requester !== 'contact') return 'forward'
  if (s.committed >= s.maxDegree) return 'forward'
  if (s.acceptsViaSender >= MAX_ACCEPTS_PER_NEIGHBOUR) return 'forward'
  return policy(s, random) ? 'accept' : 'forward'
}
