// The chat node's terminal logic as pure functions: the prompt redraw (checked on a small
// model of a terminal — wrapping with a pending-wrap column, CR, LF, cursor up/right,
// clear to end of screen — so the result is what a person would see), what is shown of
// hostile text, JSON lines, colour rules, the command parser and the option parser.
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { generatePrivateKey, publicKeyOf } from '../lib/index.js'
import { parseCli, UsageError } from '../examples/chat/args.js'
import { parseCommand } from '../examples/chat/commands.js'
import { ago, colourWanted, duration, jsonLine, painter, timeOfDay, visible } from '../examples/chat/display.js'
import { displayPos, eraseEntered, printAbove, type PromptState } from '../examples/chat/prompt.js'

/** A terminal `columns` wide: enough of VT100 for what the prompt writes. */
class Screen {
  rows: string[][] = [[]]
  row = 0
  col = 0
  /** The cursor sits past the last column until the next printable character wraps it. */
  pending = false
  constructor(readonly columns: number) {}

  write(out: string): this {
    for (let i = 0; i < out.length; i++) {
      const c = out[i]!
      if (c === '\x1b') {
        const m = /^\x1b\[(\d*)([A-Za-z])/.exec(out.slice(i))!
        const n = m[1] === '' ? 1 : Number(m[1])
        if (m[2] === 'A') this.row = Math.max(0, this.row - n)
        else if (m[2] === 'C') this.col = Math.min(this.columns - 1, this.col + n)
        else if (m[2] === 'J') {
          this.line().length = this.col
          this.rows.length = this.row + 1
        } else throw new Error(`unexpected escape ${m[0]}`)
        this.pending = false
        i += m[0].length - 1
      } else if (c === '\r') {
        this.col = 0
        this.pending = false
      } else if (c === '\n') {
        // The tty turns LF into CR LF (ONLCR, which libuv keeps in raw mode).
        this.col = 0
        this.pending = false
        this.down()
      } else {
        if (this.pending) {
          this.col = 0
          this.down()
          this.pending = false
        }
        const line = this.line()
        while (line.length < this.col) line.push(' ')
        line[this.col] = c
        if (this.col === this.columns - 1) this.pending = true
        else this.col++
      }
    }
    return this
  }

  down(): void {
    this.row++
    while (this.rows.length <= this.row) this.rows.push([])
  }

  line(): string[] {
    return this.rows[this.row]!
  }

  text(): string[] {
    return this.rows.map((r) => r.join('').trimEnd())
  }
}

/** What readline leaves on screen: prompt and line from the left edge, cursor at `cursor`. */
function drawn(state: PromptState, above: string[] = []): Screen {
  const screen = new Screen(state.columns)
  for (const l of above) screen.write(`${l}\n`)
  screen.write(state.prompt + state.line)
  const end = displayPos(state.prompt + state.line, state.columns)
  if (end.cols === 0 && end.rows > 0) screen.write(' \r')
  const at = displayPos(state.prompt + state.line.slice(0, state.cursor), state.columns)
  screen.write(`${end.rows > at.rows ? `\x1b[${end.rows - at.rows}A` : ''}\r${at.cols > 0 ? `\x1b[${at.cols}C` : ''}`)
  return screen
}

const wrap = (text: string, columns: number): string[] => {
  const out: string[] = []
  for (let i = 0; i < text.length; i += columns) out.push(text.slice(i, i + columns))
  return out
}

test('displayPos: wrapping, the exact right edge, wide characters, tabs, colour codes and newlines', () => {
  const cases: [string, number, { rows: number; cols: number }][] = [
    ['> hello', 80, { rows: 0, cols: 7 }],
    ['x'.repeat(80), 80, { rows: 1, cols: 0 }],
    ['x'.repeat(81), 80, { rows: 1, cols: 1 }],
    ['x'.repeat(9) + '李', 10, { rows: 1, cols: 2 }], // a wide character does not straddle the edge
    ['李李', 10, { rows: 0, cols: 4 }],
    ['a\tb', 80, { rows: 0, cols: 9 }],
    ['\x1b[31mred\x1b[39m', 80, { rows: 0, cols: 3 }],
    ['e\u0301', 80, { rows: 0, cols: 1 }],
    ['ab\ncd', 80, { rows: 1, cols: 2 }],
  ]
  for (const [text, columns, want] of cases) assert.equal(displayPos(text, columns), want, JSON.stringify(text))
})

test('printAbove: the line goes above; prompt, input and cursor come back as they were (table over widths and cursor places)', () => {
  const lines = ['10:00:00 ann: hi', 'a much longer incoming line that wraps over the edge of a narrow terminal, twice even', 'two\nlines']
  const inputs = ['', 'hello', 'x'.repeat(18), 'y'.repeat(38), 'z'.repeat(57), 'wide 李李李 chars 李李 here']
  for (const columns of [20, 40]) {
    for (const line of inputs) {
      for (const cursor of new Set([0, Math.floor(line.length / 2), line.length])) {
        for (const incoming of lines) {
          const state: PromptState = { prompt: '> ', line, cursor, columns }
          const history = ['earlier line']
          const screen = drawn(state, history)
          const before = screen.text()
          const rowsOfInput = before.length - history.length
          screen.write(printAbove(state, incoming))
          const after = screen.text()
          const shown = incoming.split('\n').flatMap((l) => wrap(l, columns))
          const what = `${columns} cols, ${JSON.stringify(line)} cursor ${cursor}, incoming ${JSON.stringify(incoming)}`
          assert.equal(after.slice(0, history.length + shown.length), [...history, ...shown], `${what}: the incoming line above`)
          assert.equal(after.slice(history.length + shown.length), before.slice(history.length), `${what}: the input below, untouched`)
          const expectAt = displayPos(state.prompt + line.slice(0, cursor), columns)
          assert.equal([screen.row - history.length - shown.length, screen.col], [expectAt.rows, expectAt.cols], `${what}: the cursor`)
          assert.ok(rowsOfInput >= 1)
        }
      }
    }
  }
})

test('eraseEntered: after Enter the echoed prompt and line (any number of rows) are gone, the cursor at their first row', () => {
  for (const line of ['', 'short', 'q'.repeat(18), 'r'.repeat(60)]) {
    const state: PromptState = { prompt: '> ', line, cursor: line.length, columns: 20 }
    const screen = drawn(state, ['above'])
    screen.write('\r\n') // readline's own newline on Enter
    screen.write(eraseEntered('> ', line, 20))
    assert.equal(screen.text(), ['above', ''], JSON.stringify(line))
    assert.equal([screen.row, screen.col], [1, 0])
  }
})

test('visible(): controls as control pictures, C1, DEL, bidi and separators as <U+…>; the rest untouched', () => {
  const cases: [string, string][] = [
    ['plain text, ünïcödé, 李, 🦊', 'plain text, ünïcödé, 李, 🦊'],
    ['\x1b[2J\x1b]0;title\x07', '␛[2J␛]0;title␇'],
    ['a\rb\nc\bd\te\x00', 'a␍b␊c␈d␉e␀'],
    ['del\x7f', 'del␡'],
    ['csi\u009b1m', 'csi<U+009B>1m'],
    ['\u202eevil\u202c \u2066iso\u2069 \u200e\u200f\u061c', '<U+202E>evil<U+202C> <U+2066>iso<U+2069> <U+200E><U+200F><U+061C>'],
    ['line\u2028sep\u2029', 'line<U+2028>sep<U+2029>'],
  ]
  for (const [input, want] of cases) assert.is(visible(input), want, JSON.stringify(input))
  assert.is(visible('a\x1bb', (s) => `[${s}]`), 'a[␛]b', 'marks are styled by the caller')
})

test('jsonLine(): parses back to the exact text; no raw control, C1, bidi or separator character in the line', () => {
  let all = ''
  for (let c = 0; c < 0x3000; c++) if (c < 0xd800) all += String.fromCharCode(c)
  const line = jsonLine({ type: 'message', text: all })
  assert.is(JSON.parse(line).text, all)
  assert.not.match(line, /[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/u)
})

test('colour: only on a TTY, and never when NO_COLOR is set (to anything but empty)', () => {
  assert.is(colourWanted({ isTTY: true }, {}), true)
  assert.is(colourWanted({ isTTY: true }, { NO_COLOR: '' }), true)
  assert.is(colourWanted({ isTTY: true }, { NO_COLOR: '1' }), false)
  assert.is(colourWanted({ isTTY: false }, {}), false)
  assert.is(colourWanted({}, {}), false)
  assert.is(painter(false)('red', 'x'), 'x')
  assert.is(painter(true)('red', 'x'), '\x1b[31mx\x1b[39m')
})

test('times: HH:MM:SS of local time; "ago" and durations in short words', () => {
  const at = new Date(2026, 0, 2, 3, 4, 5).getTime()
  assert.is(timeOfDay(at), '03:04:05')
  assert.equal([0, 4999, 42_000, 5 * 60_000, 3 * 3600_000, 2 * 86_400_000].map(ago), ['now', 'now', '42s ago', '5m ago', '3h ago', '2d ago'])
  assert.equal([900, 30_000, 300_000].map(duration), ['900 ms', '30 s', '5 min'])
})

test('parseCommand: every command, its usage errors, // to send a slash, unknown commands', () => {
  const cases: [string, ReturnType<typeof parseCommand>][] = [
    ['  ', { kind: 'empty' }],
    ['hello there', { kind: 'say', text: 'hello there' }],
    ['//not a command', { kind: 'say', text: '/not a command' }],
    ['/msg bob hi  there', { kind: 'msg', target: 'bob', text: 'hi  there' }],
    ['/msg msg for msg', { kind: 'msg', target: 'msg', text: 'for msg' }],
    ['/msg bob', { kind: 'usage', usage: 'usage: /msg <nick|id> <text>' }],
    ['/nick anna', { kind: 'nick', nick: 'anna' }],
    ['/nick two words', { kind: 'usage', usage: 'usage: /nick <name>' }],
    ['/connect enode://x@1.2.3.4:5', { kind: 'connect', enode: 'enode://x@1.2.3.4:5' }],
    ['/connect 10.0.0.7:30303', { kind: 'connect', enode: '10.0.0.7:30303' }],
    ['/connect', { kind: 'usage', usage: 'usage: /connect <host:port> or /connect enode://<key>@<host>:<port>' }],
    ['/who', { kind: 'who' }],
    ['/peers', { kind: 'peers' }],
    ['/help', { kind: 'help' }],
    ['/quit', { kind: 'quit' }],
    ['exit', { kind: 'quit' }],
    ['quit', { kind: 'quit' }],
    ['/frob a b', { kind: 'unknown', name: '/frob' }],
  ]
  for (const [line, want] of cases) assert.equal(parseCommand(line), want, line)
})

test('parseCli: defaults; every bad value is a one-line UsageError naming the option', () => {
  const d = parseCli([])
  assert.equal([d.port, d.host, d.bootnodes, d.desired, d.maxPeers, d.json, d.presenceInterval, d.receiptTimeout], [undefined, '127.0.0.1', [], 5, 25, false, undefined, undefined])
  const key = publicKeyOf(generatePrivateKey()).toString('hex')
  const ok = parseCli(['--port', '0', '--bootnode', `enode://${key}@127.0.0.1:1`, '--presence-interval', '2000', '--receipt-timeout', '500', '--json', '--nick', 'ann'])
  assert.equal([ok.port, ok.presenceInterval, ok.receiptTimeout, ok.json, ok.nick, ok.discovery], [0, 2000, 500, true, 'ann', true])
  const byAddress = parseCli(['--bootnode', '127.0.0.1:30303', '--bootnode', '[::1]:30303', '--extip', '203.0.113.9'])
  assert.equal([byAddress.bootnodes, byAddress.extip], [['127.0.0.1:30303', '[::1]:30303'], '203.0.113.9'])
  const bad: [string[], RegExp][] = [
    [['--bootnode', 'nonsense'], /^--bootnode is not usable: invalid enode URL "nonsense": missing 'enode:\/\/' or 'enr:' prefix .*; give host:port/],
    [['--bootnode', '127.0.0.1:30303', '--no-discovery'], /^--bootnode 127\.0\.0\.1:30303 is an address: connecting by address needs discovery/],
    [['--extip', 'my.host'], /^--extip must be an IP address/],
    [['--bootnode', 'enr:-abc'], /^--bootnode is not usable: invalid enode URL "enr:-abc": invalid node record/],
    [['--nick', 'a b'], /^--nick: nick "a b" contains U\+0020/],
    [['--nick', 'x'.repeat(33)], /^--nick: nick .* is 33 bytes long, more than 32/],
    [['--port', '70000'], /^--port must be an integer from 0 to 65535, got "70000"/],
    [['--desired', 'many'], /^--desired must be an integer from 1 to 64/],
    [['--presence-interval', '10'], /^--presence-interval must be an integer from 1000/],
    [['--frob'], /^Unknown option '--frob'/],
  ]
  for (const [args, message] of bad) {
    let err: unknown
    try {
      parseCli(args)
    } catch (e) {
      err = e
    }
    assert.instance(err, UsageError, args.join(' '))
    assert.match((err as Error).message, message)
    assert.not.match((err as Error).message, /\n/, 'one line')
  }
})

test.run()
