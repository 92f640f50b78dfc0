import { spawn } from 'node:child_process'
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { VirtualClock } from '../lib/clock.js'
import { generatePrivateKey, publicKeyOf } from '../lib/crypto/index.js'
import { Enr } from '../lib/enr.js'
import { makeNode, type NodeInfo } from '../lib/discover/node.js'
import { NODEDB_FILE, NodeDB } from '../lib/discover/nodedb.js'
import { MemoryNetwork } from '../lib/discover/transport.js'
import { seededRandom } from '../lib/random.js'
import { settle, startNode } from './support/disc.js'

const dirs: string[] = []
function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'devp2p-nodedb-'))
  dirs.push(d)
  return d
}
test.after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true })
})

const node = (i: number, record?: Enr): NodeInfo => {
  const key = generatePrivateKey()
  return makeNode(record ? record.publicKey : publicKeyOf(key), `10.0.${i >> 8}.${i & 255}`, 30303, 30304, record)
}

test('what is stored survives a close and reopen: nodes, records, bonds, failures, seq, learned ids', async () => {
  const dir = tempDir()
  const clock = new VirtualClock()
  const db = await NodeDB.open(dir, { clock })
  const key = generatePrivateKey()
  const record = Enr.create(key, 7, { ip: '10.0.0.1', udp: 30303, tcp: 30304 })
  const a = makeNode(publicKeyOf(key), '10.0.0.1', 30303, 30304, record)
  const b = node(2)
  db.updateLastPingReceived(a, clock.now() - 5)
  db.updateLastPongReceived(a, clock.now())
  db.updateLastPongReceived(b, clock.now() - 1000)
  db.updateFindFails(b.id, b.ip, 3)
  db.setLocalSeq(99n)
  db.learn('10.0.0.1:30303', a.id)
  await db.close()

  const again = await NodeDB.open(dir, { clock })
  assert.is(again.size, 2)
  assert.is(again.lastPongReceived(a.id, a.ip), clock.now())
  assert.is(again.lastPingReceived(a.id, a.ip), clock.now() - 5)
  assert.is(again.lastPongReceived(a.id, '10.9.9.9'), 0, 'a bond is tied to the IP it was made with')
  assert.is(again.findFails(b.id, b.ip), 3)
  assert.is(again.node(a.id)!.record!.seq, 7n)
  assert.is(again.node(a.id)!.tcp, 30304)
  assert.is(again.localSeq, 99n)
  assert.is(again.learnedId('10.0.0.1:30303'), a.id)
  const seeds = again.querySeeds(30, 500, seededRandom(1))
  assert.equal(seeds.map((n) => n.id), [a.id], 'only nodes that answered within maxAge are seeds')
})

test('bounded: the least recently active proven nodes go first; unproven pingers never evict them', async () => {
  const dir = tempDir()
  const clock = new VirtualClock()
  const db = await NodeDB.open(dir, { clock, maxNodes: 5, maxUnproven: 3 })
  const proven = Array.from({ length: 8 }, (_, i) => node(i))
  for (const n of proven) {
    await clock.advance(1)
    db.updateLastPongReceived(n, clock.now())
  }
  for (let i = 0; i < 50; i++) db.updateLastPingReceived(node(100 + i), clock.now())
  assert.is(db.size, 5)
  for (const n of proven.slice(3)) assert.ok(db.node(n.id), 'the five newest stay')
  for (const n of proven.slice(0, 3)) assert.is(db.node(n.id), undefined)
  await db.close()
  const file = JSON.parse(readFileSync(join(dir, NODEDB_FILE), 'utf8'))
  assert.is(file.nodes.length, 5)
})

test('an unreadable database is moved aside with a warning and the node starts fresh', async () => {
  for (const content of ['{"version":1,"nodes":[', 'garbage\u0000', '{"version":99,"nodes":[],"addresses":[]}', '[]']) {
    const dir = tempDir()
    writeFileSync(join(dir, NODEDB_FILE), content)
    const warnings: string[] = []
    const db = await NodeDB.open(dir, { onWarning: (m) => warnings.push(m) })
    assert.is(db.size, 0)
    assert.is(warnings.length, 1)
    const aside = readdirSync(dir).find((f) => f.startsWith(`${NODEDB_FILE}.corrupt-`))
    assert.ok(aside, 'the bad file is kept for inspection')
    assert.ok(warnings[0]!.includes(aside!))
    assert.is(readFileSync(join(dir, aside!), 'utf8'), content)
    assert.not.ok(existsSync(join(dir, NODEDB_FILE)))
  }
})

test('single malformed entries are skipped; stale temporary files are removed', async () => {
  const dir = tempDir()
  const good = node(1)
  writeFileSync(
    join(dir, NODEDB_FILE),
    JSON.stringify({
      version: 1,
      nodes: [
        { key: good.publicKey.toString('hex'), ip: good.ip, udp: 1, tcp: 2, lastPing: 0, lastPong: 5, fails: 0 },
        { key: 'zz', ip: '1.2.3.4', udp: 1, tcp: 1, lastPing: 0, lastPong: 0, fails: 0 },
        { key: good.publicKey.toString('hex'), ip: 'not an ip', udp: 1, tcp: 1, lastPing: 0, lastPong: 0, fails: 0 },
        { key: Buffer.alloc(64, 1).toString('hex'), ip: '1.2.3.4', udp: 1, tcp: 1, lastPing: 0, lastPong: 0, fails: 0 },
        null,
      ],
      addresses: [{ address: 'x', id: 'short' }],
    }),
  )
  writeFileSync(join(dir, `${NODEDB_FILE}.tmp-12345`), 'half a write')
  const db = await NodeDB.open(dir, { onWarning: () => assert.unreachable('no warning for a readable file') })
  assert.is(db.size, 1)
  assert.is(db.node(good.id)!.udp, 1)
  assert.is(db.learnedId('x'), undefined)
  assert.not.ok(existsSync(join(dir, `${NODEDB_FILE}.tmp-12345`)))
})

test('kill -9 while writing: the file always loads and loses at most the write in progress', async () => {
  const dir = tempDir()
  const root = fileURLToPath(new URL('..', import.meta.url))
  const random = seededRandom(42)
  let kills = 0
  let lastAck = 0
  for (let round = 0; round < 8; round++) {
    const child = spawn(process.execPath, ['--import', 'tsx', 'test/support/nodedb-writer.ts', dir], { cwd: root, stdio: ['ignore', 'pipe', 'inherit'] })
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
    let acked = lastAck
    const target = lastAck + 1 + Math.floor(random() * 5)
    await new Promise<void>((resolve) => {
      createInterface({ input: child.stdout }).on('line', (line) => {
        const m = /^flushed (\d+)$/.exec(line)
        assert.not.ok(line.startsWith('WARNING'), line)
        if (!m) return
        acked = Number(m[1])
        // kill somewhere inside one of the next writes
        if (acked >= target) setTimeout(resolve, Math.floor(random() * 8))
      })
    })
    child.kill('SIGKILL')
    await exited
    kills++
    const warnings: string[] = []
    const db = await NodeDB.open(dir, { maxNodes: 100_000, onWarning: (m) => warnings.push(m) })
    assert.equal(warnings, [], 'the file is always readable')
    let stored = 0
    while (db.learnedId(`10.9.${(stored + 1) >> 8}.${(stored + 1) & 255}:30303`) !== undefined) stored++
    assert.ok(stored >= acked, `lost acknowledged writes: ${stored} < ${acked}`)
    assert.ok(stored <= acked + 2, `more than acknowledged: ${stored} > ${acked}`)
    lastAck = stored
  }
  assert.is(kills, 8)
})

test('a restarted node finds its network again from the database, with no bootnode', async () => {
  const clock = new VirtualClock()
  const net = new MemoryNetwork()
  const dir = tempDir()
  const a = await startNode(net, clock, '10.0.0.1', {}, 1)
  const b = await startNode(net, clock, '10.0.0.2', { bootnodes: [a.enode] }, 2)
  const key = generatePrivateKey()
  const c = await startNode(net, clock, '10.0.0.3', { privateKey: key, bootnodes: [a.enode], dataDir: dir }, 3)
  await settle(clock, c.lookup())
  await settle(clock, c.lookup())
  assert.ok(c.tableEntries().some((e) => e.node.id === b.id), 'c met b through a')
  const seq = c.localRecord.seq
  await c.stop()
  const again = await startNode(net, clock, '10.0.0.3', { privateKey: key, dataDir: dir }, 4)
  await settle(clock, again.refresh())
  const ids = new Set(again.tableEntries().map((e) => e.node.id))
  assert.ok(ids.has(a.id) && ids.has(b.id), 'both known nodes are back in the table')
  assert.is(again.localRecord.seq, seq + 1n, 'the record seq keeps rising across restarts')
  for (const d of [a, b, again]) await d.stop()
})

test.run()
