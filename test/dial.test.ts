// The dialer's decisions as tables, as go-ethereum's dial_test.go has them: which node may
// be dialled, how many candidate dials to start, the static redial backoff, and rounds of
// a Dialer on a virtual clock with a fake dial function (no sockets: it only decides).
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { VirtualClock } from '../lib/clock.js'
import { checkDial, DIAL_HISTORY, Dialer, freeDialSlots, redialDelay, type CandidateSource, type DialCheck, type DialNode } from '../lib/dial.js'
import type { Enode } from '../lib/enode.js'
import { Netlist } from '../lib/netutil.js'

const node = (n: number, host = '10.0.0.1'): DialNode => ({ id: n.toString(16).padStart(64, '0'), publicKey: Buffer.alloc(64, n), host, tcpPort: 30303 })

test('checkDial: every reason a node is not dialled, and one that is', () => {
  const base: DialCheck = {
    selfId: node(0).id,
    connected: (id) => id === node(2).id,
    dialing: new Set([node(3).id]),
    netrestrict: new Netlist(['10.0.0.0/8']),
    history: new Map([[node(4).id, 2000], [node(5).id, 1000]]),
    now: 1000,
  }
  const table: [string, Enode, ReturnType<typeof checkDial>][] = [
    ['self', node(0), 'self'],
    ['no address', { id: node(1).id, publicKey: node(1).publicKey }, 'no-address'],
    ['connected', node(2), 'connected'],
    ['being dialled', node(3), 'dialing'],
    ['outside netrestrict', node(6, '192.168.1.1'), 'netrestrict'],
    ['dialled recently', node(4), 'recently-dialled'],
    ['history expired at this instant', node(5), undefined],
    ['a fresh node', node(7), undefined],
  ]
  for (const [what, n, want] of table) assert.is(checkDial(n, base), want, what)
})

test('freeDialSlots: twice the free outbound slots, capped by maxActiveDials and the peer slots left, minus dials in flight', () => {
  const table: [number, number, number, number, number, number][] = [
    // maxDialPeers, dialPeers, dynamicDialing, maxActiveDials, peerSlotsLeft, want
    [8, 0, 0, 50, 25, 16],
    [8, 0, 0, 10, 25, 10],
    [8, 6, 0, 50, 19, 4],
    [8, 6, 3, 50, 19, 1],
    [8, 8, 0, 50, 17, 0],
    [8, 9, 0, 50, 16, 0],
    [8, 6, 5, 50, 19, 0],
    [0, 0, 0, 50, 25, 0],
    // other peers (inbound, a protocol's own dials) fill the server: no dial it would refuse
    [8, 2, 0, 50, 3, 3],
    [8, 2, 2, 50, 3, 1],
    [8, 2, 0, 50, 0, 0],
    [8, 2, 0, 50, -1, 0],
  ]
  for (const [max, peers, dialing, active, left, want] of table) assert.is(freeDialSlots(max, peers, dialing, active, left), want, `${max} ${peers} ${dialing} ${active} ${left}`)
})

test('redialDelay: doubles per failure up to the largest, jittered to 50–100%', () => {
  const backoff = [1000, 30_000] as const
  const table: [number, number, number][] = [
    [0, 0, 500],
    [0, 0.999999, 1000],
    [1, 0, 1000],
    [3, 0.5, 6000],
    [5, 1 - 1e-9, 30_000],
    [40, 0, 15_000],
  ]
  for (const [failures, r, want] of table) assert.ok(Math.abs(redialDelay(failures, backoff, () => r) - want) < 0.01, `${failures} failures, random ${r}`)
})

/** A dialer whose dials succeed or fail as the test says, on a virtual clock. */
function harness(options: { maxDialPeers?: number; maxActiveDials?: number; maxPeers?: number } = {}) {
  const clock = new VirtualClock(0)
  const connected = new Set<string>()
  const inbound = new Set<string>()
  const dials: string[] = []
  const pending = new Map<string, { resolve(): void; reject(err: Error): void }>()
  const dialer = new Dialer<string>({
    selfId: node(0).id,
    maxDialPeers: options.maxDialPeers ?? 2,
    maxActiveDials: options.maxActiveDials ?? 50,
    redialBackoff: [1000, 8000],
    netrestrict: undefined,
    clock,
    random: () => 0.999999,
    connected: (id) => connected.has(id),
    dialedPeers: () => [...connected].filter((id) => !inbound.has(id)).length,
    peerSlotsLeft: () => (options.maxPeers ?? 25) - connected.size,
    dial: (n) =>
      new Promise<string>((resolve, reject) => {
        dials.push(n.id)
        pending.set(n.id, {
          resolve: () => {
            connected.add(n.id)
            dialer.peerAdded(n.id)
            resolve(n.id)
          },
          reject,
        })
      }),
  })
  const settle = async (id: string, ok: boolean): Promise<void> => {
    const p = pending.get(id)!
    pending.delete(id)
    if (ok) p.resolve()
    else p.reject(new Error('refused'))
    await clock.advance(0)
  }
  const drop = async (id: string): Promise<void> => {
    connected.delete(id)
    inbound.delete(id)
    dialer.peerRemoved(id)
    await clock.advance(0)
  }
  const taken = (): string[] => dials.splice(0)
  /** A peer the dialer's candidates did not make: inbound, or dialled for someone else (`connect()`, a protocol). */
  const other = (id: string, direction: 'inbound' | 'outbound'): void => {
    connected.add(id)
    if (direction === 'inbound') inbound.add(id)
  }
  return { clock, dialer, settle, drop, taken, pending, other }
}

/** Candidates served from a list, as discovery would. */
const source = (nodes: Enode[]): CandidateSource => ({ next: () => nodes.shift() })

test('Dialer rounds: candidates fill 2 × free slots; a failed candidate is not redialled within the history window; a dropped one frees its slot', async () => {
  const h = harness({ maxDialPeers: 2 })
  const ids = (...ns: number[]) => ns.map((n) => node(n).id)
  // Round 1: two free slots → four dials.
  h.dialer.setCandidates(source([node(1), node(2), node(3), node(4), node(5), node(6)]))
  await h.clock.advance(0)
  assert.equal(h.taken(), ids(1, 2, 3, 4))
  // Round 2: 1 and 2 connect, 3 and 4 fail: no free slot is left, nothing new is dialled.
  await h.settle(node(1).id, true)
  await h.settle(node(2).id, true)
  await h.settle(node(3).id, false)
  await h.settle(node(4).id, false)
  assert.equal(h.taken(), [])
  // Round 3: 1 drops → one slot, two dials; the source offers 3 again (recently failed): skipped.
  h.dialer.setCandidates(source([node(3), node(5), node(6), node(7)]))
  await h.drop(node(1).id)
  assert.equal(h.taken(), ids(5, 6))
  // Round 4: 5 fails; its slot goes to the next candidate, 7. Then 6 and 7 fail too.
  await h.settle(node(5).id, false)
  assert.equal(h.taken(), ids(7))
  await h.settle(node(6).id, false)
  await h.settle(node(7).id, false)
  // Round 5: a source that offers only 3: skipped until 3's history expires, 35 s after its dial.
  h.dialer.setCandidates({ next: () => node(3) })
  await h.clock.advance(DIAL_HISTORY - 1000)
  assert.equal(h.taken(), [])
  await h.clock.advance(1000)
  assert.equal(h.taken(), ids(3))
})

test('Dialer: candidates take only the peer slots the server has left; a slot freed by any peer is refilled', async () => {
  const h = harness({ maxDialPeers: 4, maxPeers: 3 })
  h.other(node(20).id, 'inbound')
  h.other(node(21).id, 'inbound')
  h.dialer.setCandidates(source([node(1), node(2), node(3), node(4)]))
  await h.clock.advance(0)
  assert.equal(h.taken(), [node(1).id], 'one slot left of three: one dial, not eight')
  await h.settle(node(1).id, true)
  await h.clock.advance(5000)
  assert.equal(h.taken(), [], 'full: no dial it would refuse itself')
  await h.drop(node(20).id)
  assert.equal(h.taken(), [node(2).id], 'an inbound peer left: its slot is dialled')
})

test('Dialer: peers dialled for others (connect(), a protocol) take outbound slots too, as go-ethereum counts static dials', async () => {
  const h = harness({ maxDialPeers: 3 })
  h.other(node(20).id, 'outbound')
  h.other(node(21).id, 'outbound')
  h.other(node(22).id, 'inbound')
  h.dialer.setCandidates(source([node(1), node(2), node(3), node(4)]))
  await h.clock.advance(0)
  assert.equal(h.taken(), [node(1).id, node(2).id], 'one outbound slot of three left: two dials')
  await h.drop(node(20).id)
  assert.equal(h.taken(), [node(3).id, node(4).id], 'a dialled peer left: two more for its slot')
})

test('Dialer: an empty source is asked again each second while slots are free', async () => {
  const h = harness({ maxDialPeers: 1 })
  const nodes: Enode[] = []
  h.dialer.setCandidates(source(nodes))
  await h.clock.advance(0)
  assert.equal(h.taken(), [])
  nodes.push(node(9))
  await h.clock.advance(999)
  assert.equal(h.taken(), [], 'not before the second is up')
  await h.clock.advance(1)
  assert.equal(h.taken(), [node(9).id])
})

test('Dialer: a static node is redialled after each failure with doubling delay, and after it drops', async () => {
  const h = harness()
  const s = node(7)
  h.dialer.addStatic(s)
  await h.clock.advance(0)
  assert.equal(h.taken(), [s.id], 'dialled at once')
  await h.settle(s.id, false)
  await h.clock.advance(1999)
  assert.equal(h.taken(), [], 'first retry after 2 s (1 s doubled once, jitter ~100%)')
  await h.clock.advance(1)
  assert.equal(h.taken(), [s.id])
  await h.settle(s.id, false)
  await h.clock.advance(3999)
  assert.equal(h.taken(), [])
  await h.clock.advance(1)
  assert.equal(h.taken(), [s.id], 'second retry after 4 s')
  await h.settle(s.id, true)
  await h.drop(s.id)
  await h.clock.advance(999)
  assert.equal(h.taken(), [], 'after a success the backoff starts over: 1 s')
  await h.clock.advance(1)
  assert.equal(h.taken(), [s.id])
  h.dialer.removeStatic(s.id)
  await h.settle(s.id, false)
  await h.clock.advance(60_000)
  assert.equal(h.taken(), [], 'removed: never again')
})

test('Dialer: at most maxActiveDials in flight; the rest wait their turn in order; one dial per node at a time', async () => {
  const h = harness({ maxActiveDials: 2 })
  const all = [node(1), node(2), node(3), node(4)]
  const results = all.map((n) => h.dialer.dial(n))
  const again = h.dialer.dial(node(1))
  await h.clock.advance(0)
  assert.equal(h.taken(), [node(1).id, node(2).id])
  await h.settle(node(1).id, true)
  assert.equal(h.taken(), [node(3).id])
  await h.settle(node(2).id, true)
  assert.equal(h.taken(), [node(4).id])
  await h.settle(node(3).id, true)
  await h.settle(node(4).id, true)
  assert.equal(await Promise.all(results), all.map((n) => n.id))
  assert.is(await again, node(1).id, 'the second dial of node 1 shared the first')
})

test.run()
