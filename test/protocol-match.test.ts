// Capability matching: highest common version per name, offsets packed after the 16 base
// protocol codes in name order (go-ethereum's matchProtocols and its TestMatchProtocols).
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { matchProtocols, type Cap, type Protocol } from '../lib/protocol.js'

const proto = (name: string, version: number, length: number): Protocol => ({ name, version, length, run() {} })
const caps = (...list: [string, number][]): Cap[] => list.map(([name, version]) => ({ name, version }))
const result = (local: Protocol[], remote: Cap[]): [string, number, number][] =>
  matchProtocols(local, remote).map(({ protocol, offset }) => [protocol.name, protocol.version, offset])

test('no shared name, no match', () => {
  assert.equal(result([proto('a', 1, 1)], caps(['b', 1])), [])
  assert.equal(result([], caps(['b', 1])), [])
  assert.equal(result([proto('a', 1, 1)], []), [])
})

test('two protocols: offsets 16 and 16 + length of the first by name, whatever the listing order', () => {
  const local = [proto('zeta', 1, 3), proto('alpha', 1, 5)]
  assert.equal(result(local, caps(['zeta', 1], ['alpha', 1])), [
    ['alpha', 1, 16],
    ['zeta', 1, 21],
  ])
})

test('one name at versions 1, 2 against 2, 3: version 2', () => {
  assert.equal(result([proto('foo', 1, 1), proto('foo', 2, 1)], caps(['foo', 2], ['foo', 3])), [['foo', 2, 16]])
})

test('remote versions 1–4 against local 2–3: version 3', () => {
  const local = [proto('foo', 2, 1), proto('foo', 3, 1)]
  assert.equal(result(local, caps(['foo', 4], ['foo', 1], ['foo', 3], ['foo', 2])), [['foo', 3, 16]])
})

test('the lengths of lower versions dropped along the way do not shift the next protocol', () => {
  // TestMatchProtocols: per-version lengths 1, 2, 3; only version 3 counts
  const local = [proto('a', 1, 1), proto('a', 2, 2), proto('a', 3, 3), proto('b', 1, 1)]
  assert.equal(result(local, caps(['a', 1], ['a', 2], ['a', 3], ['b', 1])), [
    ['a', 3, 16],
    ['b', 1, 19],
  ])
})

test('names compare case-sensitively and byte-wise: "Zed" sorts before "abc" and does not match "zed"', () => {
  const local = [proto('abc', 1, 2), proto('Zed', 1, 4), proto('zed', 1, 8)]
  assert.equal(result(local, caps(['abc', 1], ['Zed', 1])), [
    ['Zed', 1, 16],
    ['abc', 1, 20],
  ])
})

test('caps the remote lists but we do not run, and versions we lack, are skipped', () => {
  const local = [proto('eth', 68, 17), proto('snap', 1, 8)]
  assert.equal(result(local, caps(['eth', 68], ['eth', 69], ['les', 4], ['snap', 1])), [
    ['eth', 68, 16],
    ['snap', 1, 33],
  ])
})

test.run()
