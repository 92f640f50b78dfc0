export * from './secp256k1.js'
export * from './keccak.js'
export * from './symmetric.js'
