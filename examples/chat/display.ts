/**
 * What the chat node prints, as pure functions: text from the network made safe for a
 * terminal, colours that are only ever on for a terminal, timestamps, and JSON lines.
 * @module
 */
import { stripVTControlCharacters } from 'node:util'

/**
 * Characters that move the cursor, rewrite the screen or reorder what follows: C0 and C1
 * controls, DEL, bidi embeddings, overrides, isolates and marks, and the Unicode line and
 * paragraph separators. Text from the network never reaches a terminal with one of these.
 */
const UNSAFE = /[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/gu

/**
 * `text` with every unsafe character shown visibly: C0 controls and DEL as their Unicode
 * control pictures (ESC → ␛, CR → ␍), the rest as `<U+202E>`; `mark` styles each one.
 */
export function visible(text: string, mark: (shown: string) => string = (s) => s): string {
  return text.replace(UNSAFE, (c) => {
    const code = c.codePointAt(0)!
    if (code < 0x20) return mark(String.fromCodePoint(0x2400 + code))
    if (code === 0x7f) return mark('\u2421')
    return mark(`<U+${code.toString(16).toUpperCase().padStart(4, '0')}>`)
  })
}

/**
 * One JSON line. Values stay exact — parsing the line gives back the very text received —
 * but the unsafe characters JSON.stringify leaves raw (C1 controls, bidi, U+2028/9) are
 * written as `\u` escapes, so the line itself is safe on a terminal too.
 */
export function jsonLine(event: Record<string, unknown>): string {
  return JSON.stringify(event).replace(UNSAFE, (c) => `\\u${c.codePointAt(0)!.toString(16).padStart(4, '0')}`)
}

/** Whether to colour output: only on a terminal, and never when NO_COLOR is set to anything but "". */
export function colourWanted(stream: { isTTY?: boolean }, env: NodeJS.ProcessEnv): boolean {
  return stream.isTTY === true && (env.NO_COLOR === undefined || env.NO_COLOR === '')
}

const SGR = {
  bold: [1, 22],
  dim: [2, 22],
  inverse: [7, 27],
  red: [31, 39],
  green: [32, 39],
  yellow: [33, 39],
  blue: [34, 39],
  magenta: [35, 39],
  cyan: [36, 39],
  grey: [90, 39],
} as const

/** A style name. */
export type Tone = keyof typeof SGR

/** Colours text, or returns it as is when colour is off. */
export type Paint = (tone: Tone, text: string) => string

/** A {@link Paint} that colours when `on`. */
export function painter(on: boolean): Paint {
  return on ? (tone, text) => `\x1b[${SGR[tone][0]}m${text}\x1b[${SGR[tone][1]}m` : (_tone, text) => text
}

const NICK_TONES: Tone[] = ['cyan', 'green', 'magenta', 'blue', 'yellow']

/** A colour for a node, the same at every node (from its id). */
export function toneOf(id: string): Tone {
  return NICK_TONES[parseInt(id.slice(0, 8), 16) % NICK_TONES.length] ?? 'cyan'
}

const two = (n: number): string => String(n).padStart(2, '0')

/** `HH:MM:SS` of local time. */
export function timeOfDay(ms: number): string {
  const d = new Date(ms)
  return `${two(d.getHours())}:${two(d.getMinutes())}:${two(d.getSeconds())}`
}

/** How long ago, short: `now`, `42s ago`, `5m ago`, `3h ago`, `2d ago`. */
export function ago(ms: number): string {
  const s = Math.max(0, Math.floor(ms / 1000))
  if (s < 5) return 'now'
  if (s < 60) return `${s}s ago`
  if (s < 3600) return `${Math.floor(s / 60)}m ago`
  if (s < 86_400) return `${Math.floor(s / 3600)}h ago`
  return `${Math.floor(s / 86_400)}d ago`
}

/** A duration, short: `900 ms`, `30 s`, `5 min`. */
export function duration(ms: number): string {
  if (ms < 1000) return `${ms} ms`
  if (ms < 120_000) return `${Math.round(ms / 1000)} s`
  return `${Math.round(ms / 60_000)} min`
}

/** Printed width of `text` ignoring colour codes (for column alignment). */
export const plainLength = (text: string): number => [...stripVTControlCharacters(text)].length
