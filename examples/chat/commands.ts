/**
 * What a line typed at the chat node means, as a pure function of the line.
 * @module
 */

/** A parsed input line. */
export type Command =
  | { kind: 'empty' }
  | { kind: 'say'; text: string }
  | { kind: 'msg'; target: string; text: string }
  | { kind: 'nick'; nick: string }
  | { kind: 'connect'; enode: string }
  | { kind: 'who' }
  | { kind: 'peers' }
  | { kind: 'help' }
  | { kind: 'quit' }
  /** A known command with the wrong arguments: `usage` says how to call it. */
  | { kind: 'usage'; usage: string }
  | { kind: 'unknown'; name: string }

/** One line per command, as `/help` prints them. */
export const COMMANDS: [string, string][] = [
  ['<text>', 'send a line to everyone (start it with // to send one that begins with /)'],
  ['/msg <nick|id> <text>', 'a direct message, sealed to that member; you see when it is delivered'],
  ['/who', 'everyone in the chat, with when they were last heard from'],
  ['/peers', 'the nodes you hold a session with, overlay neighbours marked'],
  ['/nick <name>', 'change your nick (1–32 bytes, no spaces)'],
  ['/connect <host:port|enode>', 'join through a node (host:port needs discovery)'],
  ['/help', 'this list'],
  ['/quit', 'leave (also: quit, exit, Ctrl-D)'],
]

const USAGE: Record<string, string> = {
  '/msg': 'usage: /msg <nick|id> <text>',
  '/nick': 'usage: /nick <name>',
  '/connect': 'usage: /connect <host:port> or /connect enode://<key>@<host>:<port>',
}

/** Parses one input line. */
export function parseCommand(input: string): Command {
  const line = input.trim()
  if (line === '') return { kind: 'empty' }
  if (line === 'quit' || line === 'exit') return { kind: 'quit' }
  if (line.startsWith('//')) return { kind: 'say', text: line.slice(1) }
  if (!line.startsWith('/')) return { kind: 'say', text: line }
  const name = /^\/\S*/.exec(line)![0]
  const rest = line.slice(name.length).trim()
  const args = rest === '' ? [] : rest.split(/\s+/)
  switch (name) {
    case '/msg': {
      // Split by position, not by searching for the target: a target that also occurs in
      // "/msg" itself (nick "msg", "s", "m") would cut the text in the wrong place.
      const parts = /^(\S+)\s+(.+)$/s.exec(rest)
      return parts ? { kind: 'msg', target: parts[1]!, text: parts[2]! } : { kind: 'usage', usage: USAGE[name]! }
    }
    case '/nick':
      return args.length === 1 ? { kind: 'nick', nick: args[0]! } : { kind: 'usage', usage: USAGE[name]! }
    case '/connect':
      return args.length === 1 ? { kind: 'connect', enode: args[0]! } : { kind: 'usage', usage: USAGE[name]! }
    case '/who':
      return { kind: 'who' }
    case '/peers':
      return { kind: 'peers' }
    case '/help':
      return { kind: 'help' }
    case '/quit':
      return { kind: 'quit' }
    default:
      return { kind: 'unknown', name }
  }
}
