/**
 * Node key files in geth's format (`--nodekey`, `<datadir>/geth/nodekey`): the 32-byte
 * secp256k1 private key as 64 hex characters, written without a newline. Like geth's
 * `crypto.LoadECDSA` we accept up to two trailing CR/LF characters, since editors add them.
 * @module
 */
import { mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs'
import { basename, dirname, join } from 'node:path'
import { generatePrivateKey, isValidPrivateKey } from './crypto/index.js'
import { InvalidOptionError } from './errors.js'

const OPTION = 'nodekey'
const KEY_FILE = /^[0-9a-fA-F]{64}[\r\n]{0,2}$/

/**
 * Reads a node key file.
 * @throws {InvalidOptionError} (option `nodekey`) naming the file when it cannot be read,
 *   is not 64 hex characters, or holds a value that is not a valid secp256k1 private key
 */
export function loadNodeKey(path: string): Buffer {
  let text: string
  try {
    text = readFileSync(path, 'latin1')
  } catch (err) {
    throw new InvalidOptionError(OPTION, `cannot read node key file ${path}: ${describeFsError(err)}`)
  }
  return decodeKeyFile(path, text)
}

/**
 * Writes `key` to `path` as hex, creating missing parent directories (mode 0700). The file
 * gets mode 0600 even when it existed with another mode, because it is written to a
 * temporary file and renamed over the target, which also means a crash never leaves a
 * half-written key behind.
 * @throws {InvalidOptionError} (option `nodekey`) when `key` is not a valid private key or
 *   the file cannot be written
 */
export function saveNodeKey(path: string, key: Uint8Array): void {
  const text = encodeKey(path, key)
  const temp = join(dirname(path), `.${basename(path)}.${process.pid}.${Date.now()}.tmp`)
  try {
    mkdirSync(dirname(path), { recursive: true, mode: 0o700 })
    writeFileSync(temp, text, { mode: 0o600, flag: 'wx' })
    renameSync(temp, path)
  } catch (err) {
    rmSync(temp, { force: true })
    throw new InvalidOptionError(OPTION, `cannot write node key file ${path}: ${describeFsError(err)}`)
  }
}

/**
 * Loads the node key at `path`, or creates one with a fresh random key when the file does not
 * exist, so a node keeps its identity across restarts. An existing but malformed file is an
 * error, never silently replaced: that would change the node's identity.
 * @throws {InvalidOptionError} (option `nodekey`) as {@link loadNodeKey} and {@link saveNodeKey}
 */
export function loadOrCreateNodeKey(path: string): Buffer {
  const key = generatePrivateKey()
  try {
    mkdirSync(dirname(path), { recursive: true, mode: 0o700 })
    // 'wx' so that of two processes racing to create the file, both end up with the winner's key
    writeFileSync(path, encodeKey(path, key), { mode: 0o600, flag: 'wx' })
    return key
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return loadNodeKey(path)
    throw new InvalidOptionError(OPTION, `cannot create node key file ${path}: ${describeFsError(err)}`)
  }
}

/** Checks a file's text against geth's format and decodes the key. */
function decodeKeyFile(path: string, text: string): Buffer {
  if (!KEY_FILE.test(text)) {
    throw new InvalidOptionError(OPTION, `node key file ${path} ${describeBadText(text)}`)
  }
  const key = Buffer.from(text.slice(0, 64), 'hex')
  if (!isValidPrivateKey(key)) {
    const why = 'holds an invalid secp256k1 private key (zero or not below the curve order)'
    throw new InvalidOptionError(OPTION, `node key file ${path} ${why}`)
  }
  return key
}

/** Says how `text` departs from 64 hex characters, which is what a user needs to fix it. */
function describeBadText(text: string): string {
  const body = text.replace(/[\r\n]+$/, '')
  const bad = /[^0-9a-fA-F]/.exec(body)
  if (bad) return `contains ${JSON.stringify(bad[0])} at offset ${bad.index}; want 64 hex characters`
  if (body.length !== 64) return `holds ${body.length} hex characters; want 64`
  return 'has more than two newline characters at the end; want 64 hex characters'
}

/** Validates `key` and renders it as the file's content. */
function encodeKey(path: string, key: Uint8Array): string {
  if (!isValidPrivateKey(key)) {
    const why = 'not a valid 32-byte secp256k1 private key'
    throw new InvalidOptionError(OPTION, `refusing to write ${path}: ${why}`)
  }
  return Buffer.from(key.buffer, key.byteOffset, key.length).toString('hex')
}

/** Node's fs messages already carry the errno code and path, which users search for. */
function describeFsError(err: unknown): string {
  return err instanceof Error ? err.message : String(err)
}
