export { Chat, UnknownRecipientError, CLOCK_WINDOW, type ChatEvents, type ChatOptions, type Contact } from './chat.js'
export { ChatKind, encodeBroadcast, encodeDirect, openEnvelope, unsealDirect, MAX_TEXT, MAX_NICK, type ChatMessage, type Envelope } from './message.js'
