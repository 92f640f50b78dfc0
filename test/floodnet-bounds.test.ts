// floodnet's bounds over real loopback sockets. Node Y is a floodnet node with two
// neighbours: F, a raw floodnet peer that writes valid flood messages as fast as the socket
// takes them, and W, a well-behaved floodnet node. Y throttles F to its rate limit without
// losing any of W's messages; Y's seen-cache and receive buffer stay within their bounds
// however many messages F pushes.
import { randomBytes } from 'node:crypto'
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { generatePrivateKey, publicKeyOf } from '../lib/crypto/index.js'
import { nodeId } from '../lib/enode.js'
import { encodeSpares, FloodnetMsg, type FloodnetOptions } from '../protocols/floodnet/index.js'
import { waitFor, within } from './support/net.js'
import { encodeFlood, QUICK, sleep, startNode, startRawFloodnet, stopAll } from './support/floodnet-cluster.js'

test.after.each(stopAll)

/**
 * Y (with `options`) linked to W and to the raw flooder F; `t0` is taken before F's link
 * exists, so it precedes the creation of Y's token bucket for F.
 */
async function triangle(options: FloodnetOptions) {
  // desired 2 and 1: Y and W are satisfied by these links and send no JOIN_REQs of their own.
  const y = await startNode({ floodnet: { desired: 2, ...options } })
  const w = await startNode({ floodnet: { desired: 1 } })
  await within(w.server.connect(y.server.enode), QUICK, 'W dials Y')
  const f = await startRawFloodnet()
  const t0 = Date.now()
  const toY = await f.link(y)
  await waitFor(() => y.net.degree === 2 && w.net.degree === 1, QUICK, 'Y linked to W and F')
  const origin = Buffer.from(f.server.id, 'hex')
  /** Writes one valid flood message from F to Y; returns its id (hex). */
  const flood = async (payload: string): Promise<string> => {
    const id = randomBytes(16)
    await toY.writeMsg(FloodnetMsg.Message, encodeFlood(id, origin, 8, Buffer.from(payload)))
    return id.toString('hex')
  }
  return { y, w, f, t0, flood }
}

test('(e) a neighbour flooding above its rate limit is throttled to burst + rate × elapsed; another neighbour loses nothing', async () => {
  const limit = { rate: 50, burst: 100 }
  const { y, w, f, t0, flood } = await triangle({ rateLimit: limit })
  let fromF = 0
  let limitedF = 0
  let limitedOther = 0
  const fromW = new Map<string, number>()
  y.net.events.on('message', (d) => {
    if (d.from === f.server.id) fromF++
    else if (d.from === w.server.id) fromW.set(d.id, (fromW.get(d.id) ?? 0) + 1)
  })
  y.net.events.on('drop', (e) => {
    if (e.reason !== 'rate-limited') return
    if (e.from === f.server.id) limitedF++
    else limitedOther++
  })
  // F writes 100 messages at once every 50 ms, 1200 in all: 2000/s against a limit of 50/s.
  const batches = 12
  const total = batches * 100
  const written = new Set<string>()
  const growth: number[] = []
  for (let b = 0; b < batches; b++) {
    for (let i = 0; i < 100; i++) await flood(`flood ${b}.${i}`)
    // W writes at its own modest pace meanwhile: two messages a batch.
    for (let k = 0; k < 2; k++) written.add(w.net.write(Buffer.from(`steady ${b}.${k}`)))
    await sleep(50)
    growth.push(y.net.engine.stats.dropped['rate-limited'])
  }
  await waitFor(() => fromF + limitedF === total && [...written].every((id) => fromW.has(id)), QUICK, "all of F's messages handled by Y and all of W's delivered")
  const elapsed = Date.now() - t0
  const allowed = limit.burst + (limit.rate * elapsed) / 1000
  assert.ok(fromF <= allowed, `Y delivered ${fromF} of F's ${total} messages in ${elapsed} ms; the limit allows ${allowed.toFixed(0)}`)
  assert.ok(fromF >= limit.burst, `the burst is granted in full (${fromF})`)
  assert.is(limitedF, total - fromF, "every other message of F's was dropped as rate-limited")
  assert.is(y.net.engine.stats.dropped['rate-limited'], limitedF)
  assert.ok(growth.at(-1)! > growth[0]!, `the rate-limited count grows while F floods (${growth.join(', ')})`)
  assert.is(limitedOther, 0, 'W was never rate-limited')
  for (const id of written) assert.is(fromW.get(id), 1, `W's message ${id.slice(0, 8)} delivered once at Y`)
  // Y relayed only what it accepted: W saw at most the allowed share of F's flood.
  await waitFor(() => w.net.engine.stats.delivered >= fromF, QUICK, "Y's relays of F's accepted messages to reach W")
  assert.is(w.net.engine.stats.delivered, fromF)
})

test('(e) the seen-cache never holds more than seenCacheSize ids, however many distinct ids arrive', async () => {
  const bound = 64
  // No rate limit to speak of, and room for every delivery: only the seen-cache bound is at work.
  const { y, f, flood } = await triangle({ seenCacheSize: bound, rateLimit: { rate: 1e6, burst: 1e6 }, receiveBuffer: 10_000 })
  let largest = 0
  let delivered = 0
  const check = (): void => {
    largest = Math.max(largest, y.net.engine.seen.size)
  }
  y.net.events.on('message', (d) => {
    if (d.from === f.server.id) delivered++
    check()
  })
  const poll = setInterval(check, 1)
  const total = 2000
  const ids: string[] = []
  try {
    for (let i = 0; i < total; i++) {
      ids.push(await flood(`id ${i}`))
      check()
    }
    await waitFor(() => delivered === total, QUICK, `Y to deliver all ${total} distinct messages`)
  } finally {
    clearInterval(poll)
  }
  check()
  assert.ok(largest <= bound, `seen-cache reached ${largest} entries; bound ${bound}`)
  assert.is(y.net.engine.seen.size, bound, 'full, not emptied')
  assert.not.ok(y.net.engine.seen.has(ids[0]!), 'the oldest ids were evicted')
  assert.ok(y.net.engine.seen.has(ids.at(-1)!), 'the newest is kept')
  assert.is(y.net.engine.stats.duplicates, 0)
})

test("(e) the receive buffer never holds more than receiveBuffer messages; with no reader the oldest are dropped first, with 'drop' events", async () => {
  const bound = 8
  const { y, f, flood } = await triangle({ receiveBuffer: bound })
  const arrived: string[] = []
  const dropped: string[] = []
  let largest = 0
  y.net.events.on('message', (d) => {
    if (d.from === f.server.id) arrived.push(d.id)
    largest = Math.max(largest, y.net.engine.buffered)
  })
  y.net.events.on('drop', (e) => {
    if (e.reason === 'receive-buffer-full') dropped.push(e.id!)
    largest = Math.max(largest, y.net.engine.buffered)
  })
  const total = 100
  for (let i = 0; i < total; i++) {
    await flood(`unread ${i}`)
    largest = Math.max(largest, y.net.engine.buffered)
  }
  await waitFor(() => arrived.length === total, QUICK, `Y to accept all ${total} messages`)
  assert.ok(largest <= bound, `buffered reached ${largest}; bound ${bound}`)
  assert.is(y.net.engine.buffered, bound)
  assert.equal(dropped, arrived.slice(0, total - bound), 'dropped in arrival order, oldest first')
  assert.is(y.net.engine.stats.dropped['receive-buffer-full'], total - bound)
  const read: string[] = []
  for (let i = 0; i < bound; i++) read.push((await within(y.net.read(), QUICK, 'read()'))!.id)
  assert.equal(read, arrived.slice(total - bound), 'the newest are the ones kept, in order')
  assert.is(y.net.engine.buffered, 0)
})

test('SPARES: a neighbour gets a burst of 3 into our spares, then one every 5 s; a malformed one ends only its session', async () => {
  const { y, w, f } = await triangle({})
  const toY = f.links.get(y.server.id)!
  const before = y.net.spares
  const spare = (i: number) => {
    const publicKey = publicKeyOf(generatePrivateKey())
    return { publicKey, id: nodeId(publicKey), host: `10.1.2.${i + 1}`, tcpPort: 30303 }
  }
  // Five at once: the burst takes three, the rest come faster than one per 5 s (on a loaded
  // machine maybe not: each 5 s that passed allows one more).
  const t0 = Date.now()
  for (let i = 0; i < 5; i++) await toY.writeMsg(FloodnetMsg.Spares, encodeSpares([spare(i)]))
  await waitFor(() => y.net.spares >= before + 3, QUICK, 'three spares taken')
  await toY.writeMsg(FloodnetMsg.Spares, Uint8Array.of(0xc5, 0x01))
  await waitFor(() => !y.net.neighbours.includes(f.server.id), QUICK, 'the malformed SPARES to end F\'s session')
  const allowed = 3 + Math.floor((Date.now() - t0) / 5000)
  assert.ok(y.net.spares - before >= 3 && y.net.spares - before <= allowed, `${y.net.spares - before} taken: the burst, and no more than the rate allows (${allowed})`)
  assert.ok(y.net.neighbours.includes(w.server.id), 'W stays linked')
})

test.run()
