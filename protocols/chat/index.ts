export { Chat, UnknownRecipientError, type ChatEvents, type ChatHost, type ChatMessage, type ChatOptions, type ChatPeer, type ChatStats, type Receipt, type Recipient } from './chat.js'
export {
  ChatKind,
  DirectKind,
  decodeEnvelope,
  encodeBroadcast,
  encodeDirect,
  encodeGoodbye,
  encodePresence,
  encodeReceipt,
  openDirect,
  type BroadcastEnvelope,
  type DirectBody,
  type DirectEnvelope,
  type Envelope,
  type GoodbyeEnvelope,
  type Presence,
  type PresenceEnvelope,
} from './message.js'
export { ChatMsg, CHAT_CODES, decodeRequest, decodeResponse, encodeRequest, encodeResponse } from './sync.js'
export { checkNick, nickProblem, InvalidNickError } from './nick.js'
export { ReplayGuard, type Admission } from './replay-guard.js'
export { refreshPeriod, Roster, type Member, type RosterChange, type Sighting } from './roster.js'
export { HistoryStore, type HistoryEntry } from './history.js'
export * as chatDefaults from './constants.js'
export { CLOCK_WINDOW, MAX_NICK, MAX_TEXT, MAX_ENVELOPE, MAX_PRESENCE } from './constants.js'
