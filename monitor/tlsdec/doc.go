// Package tlsdec decrypts TLS 1.2 and TLS 1.3 connections passively, from
// the reassembled bytes of each TCP direction and the secrets of an NSS key
// log (package keyring). One Conn decodes one connection: it implements
// stream.Handler (fed by tcpflow), parses records and the plaintext part of
// the handshake (ClientHello, ServerHello, Certificate), derives record keys
// (TLS 1.3 key schedule of RFC 8446 §7; TLS 1.2 PRF key expansion of RFC 5246
// §6.3), decrypts AES-GCM and ChaCha20-Poly1305 records in place and hands
// the application data to a Consumer together with the capture times of the
// segments that carried it.
//
// Buffers: bytes passed to Data are copied once into a per-direction record
// buffer owned by the Conn; records are decrypted in place there. The []byte
// given to Consumer.AppData aliases that buffer and is valid only during the
// call: copy it to keep it. Records that arrive before their key is in the
// key log are copied into a bounded per-connection pending buffer
// (Config.MaxPending) until Retry finds the key or Close gives up on them.
//
// Nothing is ever printed; errors name the connection, direction and record
// number, never key material.
//
// A Conn is not safe for concurrent use; the keyring.Store it reads is.
package tlsdec
