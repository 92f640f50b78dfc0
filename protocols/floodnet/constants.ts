/**
 * floodnet's defaults, in one place. Each is an option of {@link FloodnetOptions} or
 * {@link FloodEngineOptions}.
 * @module
 */

/** Floodnet neighbours a node tries to keep. */
export const DESIRED = 5
/**
 * Hops a JOIN_REQ may travel before it is dropped. Walks mix for {@link JOIN_MIX_HOPS}
 * hops, then stop at the first node that accepts (any node below `desired`, 1 in 6 at
 * `desired`, 1 in 14 one above) or where they end; the rest are given up after the join
 * window, and a join round sends one walk more than it is missing.
 */
export const JOIN_HOPS = 16
/**
 * Hops a JOIN_REQ travels before any node may accept it. Five-hop walks that could stop at
 * once built a long, thin overlay from a single entry node (mean path 82 hops, diameter 244
 * at 10,000 nodes in the simulator); walks that first mix give mean paths within 15% of a
 * random graph's (4.97 hops, diameter 7; docs/overlay.md). Six hops from any node reach most
 * of a mesh of 10,000 nodes of degree 7.
 */
export const JOIN_MIX_HOPS = 6
/**
 * Hops a broadcast may travel. A message's hop count is that of the fastest path, which can
 * be longer than the shortest: at 10,000 nodes the simulator measured a diameter of 7 and
 * messages arriving after up to 10 hops (docs/overlay.md). Three times that, so the limit
 * stops only runaways, also in networks ten times larger. A relay cut short by it is counted
 * (`last-hop` drops), never silent.
 */
export const MAX_HOPS = 32
/** Seen-cache bound in entries: at 200 messages/s this covers the whole TTL. */
export const SEEN_CACHE_SIZE = 32_768
/** Seen-cache age bound in ms; refreshed on every re-sighting. Matches gossipsub's 2 min. */
export const SEEN_TTL = 120_000
/** Messages delivered but not yet read; the oldest is dropped beyond this. */
export const RECEIVE_BUFFER = 512
/** Payload bytes of messages delivered but not yet read; the oldest are dropped beyond this. */
export const RECEIVE_BUFFER_BYTES = 16 * 1024 * 1024
/** Messages per second each neighbour may make us relay, and the burst it may spend at once. */
export const RATE_LIMIT = { rate: 200, burst: 400 }
/** Relays queued towards one neighbour before further relays to it are dropped. */
export const MAX_OUTSTANDING_SENDS = 256
/**
 * Bytes of relays queued towards one neighbour before further relays to it are dropped: a
 * neighbour that does not read costs at most this (plus the server's socket backlog) until
 * the server's write deadline disconnects it.
 */
export const MAX_BACKLOG_BYTES = 1024 * 1024
/** Delay before repeating joins when short of neighbours: first and largest, in ms (jittered, doubled per round). */
export const JOIN_BACKOFF: [number, number] = [250, 5000]
/** How long a sent JOIN_REQ counts as a walk still out when pacing rounds, in ms: a 5-hop walk plus a dial and handshake, with room. */
export const JOIN_WINDOW = 1000
/** How long a join token is honoured by JOIN_ACK, in ms: an acceptor's dial may take up to the dial timeout. */
export const JOIN_TOKEN_TTL = 15_000
/** JOIN_REQs and JOIN_OFFERs each neighbour may send us per second (and burst): each can make us dial. */
export const JOIN_RATE = { rate: 10, burst: 20 }
/** Neighbours' enodes remembered (from their own JOIN_REQs) to rejoin through when no neighbour and no bootnode is left. */
export const MAX_MET = 16
/** Walks of requesters that do not listen remembered, so their offers can retrace them. */
export const MAX_ROUTES = 1024
/** Mean time between the SPARES messages a node sends to a random neighbour, ms. */
export const SPARES_INTERVAL = 30_000
/** SPARES messages each neighbour may send us per second (and burst): they only feed a bounded set. */
export const SPARES_RATE = { rate: 0.2, burst: 3 }
/** Largest broadcast payload, in bytes. */
export const MAX_PAYLOAD = 256 * 1024
