package tlsdec

import (
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/sha512"
	"hash"
)

// hkdfExpandLabel is HKDF-Expand-Label of RFC 8446 §7.1:
// HKDF-Expand(secret, HkdfLabel{length, "tls13 " + label, context}, length).
func hkdfExpandLabel(h func() hash.Hash, secret []byte, label string, context []byte, length int) []byte {
	info := make([]byte, 0, 2+1+6+len(label)+1+len(context))
	info = append(info, byte(length>>8), byte(length))
	info = append(info, byte(6+len(label)))
	info = append(info, "tls13 "...)
	info = append(info, label...)
	info = append(info, byte(len(context)))
	info = append(info, context...)
	out, err := hkdf.Expand(h, secret, string(info), length)
	if err != nil {
		// Only possible for a length beyond 255 hash blocks, which no caller asks for.
		panic("tlsdec: hkdf: " + err.Error())
	}
	return out
}

// trafficKeys derives the record key and iv from a TLS 1.3 traffic secret
// (RFC 8446 §7.3).
func trafficKeys(s *suite, secret []byte) (key, iv []byte) {
	return hkdfExpandLabel(s.hash, secret, "key", nil, s.keyLen),
		hkdfExpandLabel(s.hash, secret, "iv", nil, 12)
}

// nextTrafficSecret is the KeyUpdate step of RFC 8446 §7.2.
func nextTrafficSecret(s *suite, secret []byte) []byte {
	return hkdfExpandLabel(s.hash, secret, "traffic upd", nil, s.hash().Size())
}

// pHash is P_hash of RFC 5246 §5, filling out.
func pHash(h func() hash.Hash, secret, seed []byte, out []byte) {
	mac := hmac.New(h, secret)
	mac.Write(seed)
	a := mac.Sum(nil) // A(1)
	for n := 0; n < len(out); {
		mac.Reset()
		mac.Write(a)
		mac.Write(seed)
		n += copy(out[n:], mac.Sum(nil))
		mac.Reset()
		mac.Write(a)
		a = mac.Sum(a[:0])
	}
}

// prf12 is the TLS 1.2 PRF: P_<hash>(secret, label + seed).
func prf12(h func() hash.Hash, secret []byte, label string, seed []byte, out []byte) {
	ls := make([]byte, 0, len(label)+len(seed))
	ls = append(ls, label...)
	ls = append(ls, seed...)
	pHash(h, secret, ls, out)
}

// keyBlock12 derives the TLS 1.2 AEAD keys from the master secret
// (RFC 5246 §6.3; AEAD suites have no MAC keys).
func keyBlock12(s *suite, master []byte, clientRandom, serverRandom *[32]byte) (cKey, sKey, cIV, sIV []byte) {
	seed := make([]byte, 0, 64)
	seed = append(seed, serverRandom[:]...)
	seed = append(seed, clientRandom[:]...)
	kb := make([]byte, 2*s.keyLen+2*s.ivLen12)
	prf12(s.hash, master, "key expansion", seed, kb)
	cKey, kb = kb[:s.keyLen], kb[s.keyLen:]
	sKey, kb = kb[:s.keyLen], kb[s.keyLen:]
	cIV, kb = kb[:s.ivLen12], kb[s.ivLen12:]
	sIV = kb[:s.ivLen12]
	return
}

var (
	sha256New = sha256.New
	sha384New = sha512.New384
)
