import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { generatePrivateKey } from '../lib/crypto/index.js'
import { InvalidOptionError } from '../lib/errors.js'
import { loadNodeKey, loadOrCreateNodeKey, saveNodeKey } from '../lib/node-key.js'

let dir = ''
test.before.each(() => {
  dir = mkdtempSync(join(tmpdir(), 'devp2p-nodekey-'))
})
test.after.each(() => {
  rmSync(dir, { recursive: true, force: true })
})

const posix = process.platform !== 'win32'
const modeOf = (path: string): number => statSync(path).mode & 0o777

function rejectsWith(path: string, phrase: RegExp): void {
  try {
    loadNodeKey(path)
  } catch (err) {
    assert.instance(err, InvalidOptionError)
    const message = (err as Error).message
    assert.ok(message.includes('"nodekey"'), message)
    assert.ok(message.includes(path), `message does not name the file: ${message}`)
    assert.match(message, phrase)
    return
  }
  assert.unreachable(`loaded ${path}`)
}

test('save then load round-trips the key as bare hex, like geth', () => {
  const key = generatePrivateKey()
  const path = join(dir, 'nodekey')
  saveNodeKey(path, key)
  assert.is(readFileSync(path, 'utf8'), key.toString('hex'))
  assert.equal(loadNodeKey(path), key)
})

test('save creates missing parent directories and the file with mode 0600', () => {
  const path = join(dir, 'a', 'b', 'nodekey')
  saveNodeKey(path, generatePrivateKey())
  if (posix) assert.is(modeOf(path), 0o600)
})

test('save over a world-readable file leaves it 0600', () => {
  if (!posix) return
  const path = join(dir, 'nodekey')
  writeFileSync(path, 'x', { mode: 0o644 })
  chmodSync(path, 0o644)
  saveNodeKey(path, generatePrivateKey())
  assert.is(modeOf(path), 0o600)
})

test('load accepts upper-case hex and up to two trailing newline characters', () => {
  const key = generatePrivateKey()
  const path = join(dir, 'nodekey')
  const text = key.toString('hex')
  for (const content of [text.toUpperCase(), `${text}\n`, `${text}\r\n`]) {
    writeFileSync(path, content)
    assert.equal(loadNodeKey(path), key)
  }
})

const malformed: Array<[string, string, RegExp]> = [
  ['empty', '', /holds 0 hex characters; want 64/],
  ['too short', 'ab'.repeat(31), /holds 62 hex characters; want 64/],
  ['too long', 'ab'.repeat(33), /holds 66 hex characters; want 64/],
  ['not hex', `${'ab'.repeat(31)}zz`, /contains "z" at offset 62/],
  ['0x prefix', `0x${'ab'.repeat(31)}`, /contains "x" at offset 1/],
  ['three newlines', `${'ab'.repeat(32)}\n\n\n`, /more than two newline characters/],
  ['zero key', '0'.repeat(64), /invalid secp256k1 private key/],
  ['key ≥ curve order', 'f'.repeat(64), /invalid secp256k1 private key/],
]
for (const [name, text, phrase] of malformed) {
  test(`load rejects a malformed file (${name}) with InvalidOptionError naming the file`, () => {
    const path = join(dir, 'nodekey')
    writeFileSync(path, text)
    rejectsWith(path, phrase)
  })
}

test('load of a missing file is an InvalidOptionError naming it', () => {
  rejectsWith(join(dir, 'absent'), /cannot read node key file .*ENOENT/)
})

const isOptionError = (e: unknown): boolean => e instanceof InvalidOptionError

test('save refuses an invalid key', () => {
  const path = join(dir, 'nodekey')
  assert.throws(() => saveNodeKey(path, new Uint8Array(32)), isOptionError)
  assert.throws(() => saveNodeKey(path, new Uint8Array(31).fill(1)), isOptionError)
  assert.not.ok(existsSync(path))
})

test('loadOrCreate creates a 0600 key file, then reloads the same key', () => {
  const path = join(dir, 'data', 'nodekey')
  const first = loadOrCreateNodeKey(path)
  assert.is(first.length, 32)
  assert.ok(existsSync(path))
  if (posix) assert.is(modeOf(path), 0o600)
  assert.equal(loadNodeKey(path), first)
  assert.equal(loadOrCreateNodeKey(path), first)
})

test('loadOrCreate does not replace a malformed file', () => {
  const path = join(dir, 'nodekey')
  writeFileSync(path, 'garbage')
  assert.throws(() => loadOrCreateNodeKey(path), isOptionError)
  assert.is(readFileSync(path, 'utf8'), 'garbage')
})

test.run()
