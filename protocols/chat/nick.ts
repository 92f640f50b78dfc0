/**
 * What a nick may be: 1 to 32 bytes of UTF-8 with no whitespace and nothing invisible or
 * able to move a terminal's cursor — no control, format (bidi overrides, zero-width),
 * separator, private-use, lone surrogate or unassigned code points. Checked where a nick is
 * chosen and on every message that carries one, so a nick is always safe to print as is
 * and one word on a command line.
 * @module
 */
import { Devp2pError } from '../../lib/errors.js'
import { MAX_NICK } from './constants.js'

/** A nick that breaks the rules of {@link checkNick}. */
export class InvalidNickError extends Devp2pError {
  constructor(nick: string, reason: string) {
    super('ERR_INVALID_NICK', `nick ${JSON.stringify(nick.slice(0, 64))} ${reason}; use 1 to ${MAX_NICK} bytes of visible characters without spaces`)
  }
}

const FORBIDDEN = /[\p{C}\p{Z}\s]/u

/** Why `nick` is not allowed, or `undefined` when it is. */
export function nickProblem(nick: string): string | undefined {
  if (nick.length === 0) return 'is empty'
  const bytes = Buffer.byteLength(nick)
  if (bytes > MAX_NICK) return `is ${bytes} bytes long, more than ${MAX_NICK}`
  const bad = FORBIDDEN.exec(nick)
  if (bad) return `contains U+${bad[0].codePointAt(0)!.toString(16).toUpperCase().padStart(4, '0')}, which is not a visible character`
  return undefined
}

/** @throws {InvalidNickError} when `nick` breaks the rules */
export function checkNick(nick: string): string {
  const problem = nickProblem(nick)
  if (problem) throw new InvalidNickError(nick, problem)
  return nick
}
