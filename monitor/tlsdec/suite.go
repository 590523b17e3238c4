package tlsdec

import (
	"crypto/aes"
	"crypto/cipher"
	"hash"

	"golang.org/x/crypto/chacha20poly1305"
)

type aeadKind uint8

const (
	aeadNone aeadKind = iota // not decrypted (CBC, stream ciphers, unknown)
	aeadAESGCM
	aeadChaCha
)

// suite describes how a cipher suite protects records.
type suite struct {
	id      uint16
	name    string
	tls13   bool
	aead    aeadKind
	keyLen  int
	ivLen12 int // TLS 1.2 fixed IV length: 4 (GCM salt) or 12 (ChaCha20)
	hash    func() hash.Hash
}

var suites = []suite{
	{0x1301, "TLS_AES_128_GCM_SHA256", true, aeadAESGCM, 16, 0, sha256New},
	{0x1302, "TLS_AES_256_GCM_SHA384", true, aeadAESGCM, 32, 0, sha384New},
	{0x1303, "TLS_CHACHA20_POLY1305_SHA256", true, aeadChaCha, 32, 0, sha256New},

	{0xc02b, "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256", false, aeadAESGCM, 16, 4, sha256New},
	{0xc02f, "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256", false, aeadAESGCM, 16, 4, sha256New},
	{0xc02c, "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384", false, aeadAESGCM, 32, 4, sha384New},
	{0xc030, "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384", false, aeadAESGCM, 32, 4, sha384New},
	{0xcca8, "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256", false, aeadChaCha, 32, 12, sha256New},
	{0xcca9, "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256", false, aeadChaCha, 32, 12, sha256New},
	{0xccaa, "TLS_DHE_RSA_WITH_CHACHA20_POLY1305_SHA256", false, aeadChaCha, 32, 12, sha256New},
	{0x009c, "TLS_RSA_WITH_AES_128_GCM_SHA256", false, aeadAESGCM, 16, 4, sha256New},
	{0x009d, "TLS_RSA_WITH_AES_256_GCM_SHA384", false, aeadAESGCM, 32, 4, sha384New},
	{0x009e, "TLS_DHE_RSA_WITH_AES_128_GCM_SHA256", false, aeadAESGCM, 16, 4, sha256New},
	{0x009f, "TLS_DHE_RSA_WITH_AES_256_GCM_SHA384", false, aeadAESGCM, 32, 4, sha384New},
}

func lookupSuite(id uint16) *suite {
	for i := range suites {
		if suites[i].id == id {
			return &suites[i]
		}
	}
	return nil
}

// SuiteName returns the IANA name of a cipher suite this package decrypts,
// or "0xXXXX" for any other.
func SuiteName(id uint16) string {
	if s := lookupSuite(id); s != nil {
		return s.name
	}
	const hexd = "0123456789abcdef"
	return string([]byte{'0', 'x', hexd[id>>12], hexd[id>>8&15], hexd[id>>4&15], hexd[id&15]})
}

// recordKeys protects one direction: an AEAD, its iv (TLS 1.3 and ChaCha20
// in TLS 1.2: 12 bytes XORed with the sequence number; GCM in TLS 1.2: the
// 4-byte salt) and the sequence number of the next record.
type recordKeys struct {
	aead   cipher.AEAD
	iv     [12]byte
	ivLen  int
	seq    uint64
	tls13  bool
	secret []byte // TLS 1.3 traffic secret, for KeyUpdate
	s      *suite
	// Scratch space for open: arrays passed to an interface method would
	// escape, so they live here rather than on the stack.
	nonce [12]byte
	aad   [13]byte
}

func newAEAD(s *suite, key []byte) (cipher.AEAD, error) {
	switch s.aead {
	case aeadAESGCM:
		b, err := aes.NewCipher(key)
		if err != nil {
			return nil, err
		}
		return cipher.NewGCM(b)
	case aeadChaCha:
		return chacha20poly1305.New(key)
	}
	return nil, errUnsupported
}

func newKeys13(s *suite, secret []byte) (*recordKeys, error) {
	key, iv := trafficKeys(s, secret)
	a, err := newAEAD(s, key)
	if err != nil {
		return nil, err
	}
	k := &recordKeys{aead: a, ivLen: 12, tls13: true, secret: secret, s: s}
	copy(k.iv[:], iv)
	return k, nil
}

func newKeys12(s *suite, key, iv []byte) (*recordKeys, error) {
	a, err := newAEAD(s, key)
	if err != nil {
		return nil, err
	}
	k := &recordKeys{aead: a, ivLen: len(iv), s: s}
	copy(k.iv[:], iv)
	return k, nil
}

// update applies a TLS 1.3 KeyUpdate.
func (k *recordKeys) update() error {
	nk, err := newKeys13(k.s, nextTrafficSecret(k.s, k.secret))
	if err != nil {
		return err
	}
	*k = *nk
	return nil
}

// explicitNonceLen is the per-record nonce carried in the payload.
func (k *recordKeys) explicitNonceLen() int {
	if !k.tls13 && k.ivLen == 4 {
		return 8
	}
	return 0
}

// open decrypts one record in place. rec is the whole record, header
// included; the plaintext is returned as a subslice of rec. For TLS 1.3 the
// returned type is the inner content type. It does not advance seq.
func (k *recordKeys) open(rec []byte, seq uint64) (typ uint8, plain []byte, err error) {
	nonce, aad := &k.nonce, &k.aad
	hdr, payload := rec[:5], rec[5:]
	overhead := k.aead.Overhead()
	switch {
	case k.tls13:
		if len(payload) < overhead+1 {
			return 0, nil, errShort
		}
		xorSeq(nonce, &k.iv, seq)
		out, err := k.aead.Open(payload[:0], nonce[:], payload, hdr)
		if err != nil {
			return 0, nil, errAuth
		}
		i := len(out) - 1
		for i >= 0 && out[i] == 0 {
			i--
		}
		if i < 0 {
			return 0, nil, errNoInnerType
		}
		return out[i], out[:i], nil
	case k.ivLen == 4: // TLS 1.2 GCM: salt || explicit nonce
		if len(payload) < 8+overhead {
			return 0, nil, errShort
		}
		copy(nonce[:4], k.iv[:4])
		copy(nonce[4:], payload[:8])
		payload = payload[8:]
	default: // TLS 1.2 ChaCha20-Poly1305 (RFC 7905)
		if len(payload) < overhead {
			return 0, nil, errShort
		}
		xorSeq(nonce, &k.iv, seq)
	}
	n := len(payload) - overhead
	putUint64(aad[:8], seq)
	aad[8], aad[9], aad[10] = hdr[0], hdr[1], hdr[2]
	aad[11], aad[12] = byte(n>>8), byte(n)
	out, err := k.aead.Open(payload[:0], nonce[:], payload, aad[:])
	if err != nil {
		return 0, nil, errAuth
	}
	return hdr[0], out, nil
}

func xorSeq(nonce, iv *[12]byte, seq uint64) {
	*nonce = *iv
	for i := 0; i < 8; i++ {
		nonce[4+i] ^= byte(seq >> (56 - 8*i))
	}
}

func putUint64(b []byte, v uint64) {
	_ = b[7]
	for i := 0; i < 8; i++ {
		b[i] = byte(v >> (56 - 8*i))
	}
}
