// The history store: newest 100 of the last hour, and the rule that an entry taken once is
// never taken again.
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { seededRandom } from '../lib/random.js'
import { HistoryStore } from '../protocols/chat/index.js'

const T0 = 10_000_000
const entry = (id: string, timestamp: number) => ({ id, timestamp, payload: Buffer.from(id) })

test('keeps the newest entries by (timestamp, id), drops those over the age, refuses duplicates', () => {
  const store = new HistoryStore(3, 1000)
  assert.ok(store.add(entry('b', T0 + 2), T0))
  assert.ok(store.add(entry('a', T0 + 1), T0))
  assert.ok(store.add(entry('c', T0 + 3), T0))
  assert.not.ok(store.add(entry('c', T0 + 3), T0), 'duplicate')
  assert.not.ok(store.add(entry('z', T0), T0), 'older than the oldest of a full store')
  assert.ok(store.add(entry('d', T0 + 2), T0), 'ties order by id: b < d')
  assert.equal(store.payloads(T0).map(String), ['b', 'd', 'c'])
  assert.not.ok(store.add(entry('old', T0 - 1001), T0), 'over the age')
  assert.equal(store.payloads(T0 + 1003).map(String), ['c'], 'aged out')
  assert.is(store.bytes, 1)
})

test('property: an id taken once is never taken again (seeded, 5000 offers)', () => {
  const random = seededRandom(9)
  const store = new HistoryStore(10, 500)
  const taken = new Set<string>()
  let now = T0
  for (let i = 0; i < 5000; i++) {
    now += Math.floor(random() * 5)
    const n = Math.floor(random() * 300)
    const id = `m${n}`
    // Each id always carries the same timestamp, as a signed message does.
    const ok = store.add(entry(id, T0 + n * 7 - 200), now)
    if (ok) {
      assert.not.ok(taken.has(id), `${id} taken twice`)
      taken.add(id)
    }
    assert.ok(store.size <= 10)
  }
  assert.ok(taken.size > 10)
})

test.run()
