/**
 * Keeping a readline prompt whole while lines arrive. When a line is printed the prompt
 * and what the user has typed so far — which may wrap over several rows — are erased, the
 * line is written, and the prompt and input are drawn again with the cursor where it was.
 * The arithmetic is pure ({@link printAbove}, {@link displayPos}); {@link Prompt} applies it
 * to a readline interface.
 * @module
 */
import { createInterface, type Interface } from 'node:readline'
import { stripVTControlCharacters } from 'node:util'

const CSI = '\x1b['
const TAB = 8

/** What is on the input rows: the prompt, the typed line, the cursor in it, the terminal's width. */
export interface PromptState {
  prompt: string
  line: string
  /** Index into `line`, in UTF-16 units as readline counts. */
  cursor: number
  columns: number
}

/** Columns a code point takes: 0 for combining and zero-width ones, 2 for wide East Asian ones. */
export function charWidth(code: number): number {
  if (code < 0x20 || (code >= 0x7f && code < 0xa0)) return 0
  if (
    (code >= 0x300 && code <= 0x36f) ||
    (code >= 0x200b && code <= 0x200f) ||
    (code >= 0x20d0 && code <= 0x20ff) ||
    (code >= 0xfe00 && code <= 0xfe0f) ||
    (code >= 0xfe20 && code <= 0xfe2f) ||
    code === 0xfeff ||
    (code >= 0xe0100 && code <= 0xe01ef)
  ) {
    return 0
  }
  if (
    code >= 0x1100 &&
    (code <= 0x115f ||
      code === 0x2329 ||
      code === 0x232a ||
      (code >= 0x2e80 && code <= 0x3247 && code !== 0x303f) ||
      (code >= 0x3250 && code <= 0x4dbf) ||
      (code >= 0x4e00 && code <= 0xa4c6) ||
      (code >= 0xa960 && code <= 0xa97c) ||
      (code >= 0xac00 && code <= 0xd7a3) ||
      (code >= 0xf900 && code <= 0xfaff) ||
      (code >= 0xfe10 && code <= 0xfe19) ||
      (code >= 0xfe30 && code <= 0xfe6b) ||
      (code >= 0xff01 && code <= 0xff60) ||
      (code >= 0xffe0 && code <= 0xffe6) ||
      (code >= 0x1b000 && code <= 0x1b001) ||
      (code >= 0x1f200 && code <= 0x1f251) ||
      (code >= 0x1f300 && code <= 0x1f64f) ||
      (code >= 0x1f900 && code <= 0x1f9ff) ||
      (code >= 0x20000 && code <= 0x3fffd))
  ) {
    return 2
  }
  return 1
}

/**
 * Where text written from the start of a row leaves the cursor, as readline computes it:
 * rows down and column, wrapping at `columns`; a wide character that would straddle the
 * edge moves to the next row; tabs go to the next multiple of 8; colour codes take no room.
 */
export function displayPos(text: string, columns: number): { rows: number; cols: number } {
  let offset = 0
  let rows = 0
  for (const char of stripVTControlCharacters(text)) {
    if (char === '\n') {
      rows += Math.ceil(offset / columns) || 1
      offset = 0
      continue
    }
    if (char === '\t') {
      offset += TAB - (offset % TAB)
      continue
    }
    const width = charWidth(char.codePointAt(0)!)
    if (width === 2 && (offset + 1) % columns === 0) offset++
    offset += width
  }
  const cols = offset % columns
  rows += (offset - cols) / columns
  return { rows, cols }
}

const up = (n: number): string => (n > 0 ? `${CSI}${n}A` : '')
const column = (col: number): string => `\r${col > 0 ? `${CSI}${col}C` : ''}`

/**
 * The bytes that print `text` (one or more complete lines, without the final newline) above
 * the prompt: up to the prompt's first row, clear to the end of the screen, the text, then
 * prompt and input again with the cursor back in its place.
 */
export function printAbove(state: PromptState, text: string): string {
  const { prompt, line, cursor, columns } = state
  const at = displayPos(prompt + line.slice(0, cursor), columns)
  const end = displayPos(prompt + line, columns)
  let out = `${up(at.rows)}\r${CSI}J${text}\n${prompt}${line}`
  // A line that ends exactly at the right edge leaves the cursor there, not on a new row.
  if (end.cols === 0 && end.rows > 0) out += ' \r'
  out += up(end.rows - at.rows) + column(at.cols)
  return out
}

/**
 * The bytes that remove a line the user just entered: readline has echoed prompt and line
 * and moved to the start of the row below, so go up over all of it and clear.
 */
export function eraseEntered(prompt: string, line: string, columns: number): string {
  const end = displayPos(prompt + line, columns)
  return `${up(end.rows + 1)}\r${CSI}J`
}

/** Where lines go: above a live prompt on a terminal, or simply one after another. */
export class Prompt {
  readonly #rl: Interface
  readonly #out: NodeJS.WriteStream
  readonly #tty: boolean
  #prompt: string
  #closed = false

  /**
   * @param tty draw a prompt and redraw it around printed lines; otherwise read lines
   *   and print plainly (a pipe, a script, `--json`)
   */
  constructor(input: NodeJS.ReadStream, output: NodeJS.WriteStream, tty: boolean, prompt = '> ') {
    this.#out = output
    this.#tty = tty
    this.#prompt = prompt
    this.#rl = createInterface({ input, output: tty ? output : undefined, terminal: tty, prompt })
    this.#rl.on('close', () => (this.#closed = true))
  }

  /** Calls `fn` with each line entered, after removing its echo from a terminal. */
  onLine(fn: (line: string) => void): void {
    this.#rl.on('line', (line) => {
      if (this.#tty) this.#out.write(eraseEntered(this.#prompt, line, this.#columns()))
      fn(line)
      if (this.#tty && !this.#closed) this.#rl.prompt()
    })
  }

  onClose(fn: () => void): void {
    this.#rl.on('close', fn)
  }

  /** Shows the prompt (a terminal only). */
  start(): void {
    if (this.#tty) this.#rl.prompt()
  }

  /** Prints complete lines (no trailing newline) without breaking what is being typed. */
  print(text: string): void {
    if (!this.#tty || this.#closed) {
      this.#out.write(`${text}\n`)
      return
    }
    this.#out.write(printAbove({ prompt: this.#prompt, line: this.#rl.line, cursor: this.#rl.cursor, columns: this.#columns() }, text))
  }

  close(): void {
    this.#rl.close()
  }

  #columns(): number {
    return this.#out.columns > 0 ? this.#out.columns : 80
  }
}
