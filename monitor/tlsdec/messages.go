package tlsdec

import (
	"github.com/cloudpcap/cloudpcap/monitor/stream"
)

// handshake reassembles handshake messages of one direction from record
// payloads (plaintext or decrypted) and handles each complete one.
func (c *Conn) handshake(h *half, p []byte) {
	if h.hsSkip > 0 {
		n := min(h.hsSkip, len(p))
		h.hsSkip -= n
		p = p[n:]
	}
	h.hs = append(h.hs, p...)
	for len(h.hs) >= 4 {
		n := int(h.hs[1])<<16 | int(h.hs[2])<<8 | int(h.hs[3])
		if n > maxHandshakeMsg {
			c.stats.BadRecords++
			c.fail(h, h.nrec, ErrHandshake)
			h.hsSkip = 4 + n - len(h.hs)
			h.hs = h.hs[:0]
			return
		}
		if len(h.hs) < 4+n {
			return
		}
		c.message(h, h.hs[0], h.hs[4:4+n])
		h.hs = h.hs[:copy(h.hs, h.hs[4+n:])]
	}
}

func (c *Conn) message(h *half, typ uint8, body []byte) {
	if typ != hsClientHello {
		c.lostClientHello(h)
	}
	switch {
	case typ == hsClientHello && h.dir == stream.ClientToServer && h.phase == phasePlain:
		ch, err := ParseClientHello(body)
		if err != nil {
			c.badHandshake(h)
			return
		}
		c.info.ClientVersion = ch.Version
		c.info.ClientRandom = ch.Random
		c.info.HaveClientRandom = true
		c.info.SNI = ch.SNI
		c.info.ClientALPN = ch.ALPN
		c.info.OfferedSuites = ch.Suites
		c.info.OfferedVersions = ch.Versions
		h.earlyMaybe = ch.EarlyData
		if h.deferHS {
			h.deferHS = false
			h.switchHS = true
		}
		c.retryNeeded = true
	case typ == hsServerHello && h.dir == stream.ServerToClient && h.phase == phasePlain:
		sh, err := ParseServerHello(body)
		if err != nil {
			c.badHandshake(h)
			return
		}
		c.info.Suite = sh.Suite
		c.info.Version = sh.NegotiatedVersion()
		if sh.HelloRetry {
			// The real ServerHello follows the client's second ClientHello.
			c.info.HelloRetry = true
			return
		}
		c.info.ServerRandom = sh.Random
		if sh.ALPN != "" {
			c.info.ALPN = sh.ALPN
		}
		c.suite = lookupSuite(sh.Suite)
		if c.suite != nil && c.suite.tls13 != (c.info.Version == VersionTLS13) {
			c.suite = nil
		}
		if c.info.Version < VersionTLS12 {
			c.suite = nil
		}
		c.info.Decryptable = c.suite != nil
		cs := &c.h[stream.ClientToServer]
		if c.info.Version == VersionTLS13 {
			h.phase = phaseHandshake
			if c.info.HaveClientRandom {
				cs.phase = phaseHandshake
			} else {
				cs.deferHS = true // the ClientHello was handed over after the ServerHello
			}
			cs.ccsEarly = false
		} else if cs.ccsEarly {
			cs.phase = phaseApp
			cs.ccsEarly = false
		}
		c.retryNeeded = true
	case typ == hsEncryptedExtensions && h.dir == stream.ServerToClient:
		alpn, err := parseEncryptedExtensions(body)
		if err != nil {
			c.badHandshake(h)
			return
		}
		if alpn != "" {
			c.info.ALPN = alpn
		}
	case typ == hsCertificate && h.dir == stream.ServerToClient && c.info.CertCN == "" && c.info.CertSANs == nil:
		cert, err := parseLeafCertificate(body, c.info.Version == VersionTLS13)
		if err != nil {
			c.badHandshake(h)
			return
		}
		if cert != nil {
			c.info.CertCN = cert.Subject.CommonName
			c.info.CertSANs = cert.DNSNames
		}
	case typ == hsFinished:
		if h.phase == phaseHandshake {
			h.switchApp = true
		} else if h.phase == phaseApp && !h.finished {
			h.finished = true
			c.maybeDone()
		}
	case typ == hsKeyUpdate && h.phase == phaseApp && c.info.Version == VersionTLS13:
		if len(body) != 1 || body[0] > 1 {
			c.badHandshake(h)
			return
		}
		// Both update_not_requested and update_requested change only this
		// direction's keys; a requested update shows up as the peer's own
		// KeyUpdate in the other direction.
		h.keyUpdate = true
	}
}

func (c *Conn) badHandshake(h *half) {
	c.stats.BadRecords++
	c.fail(h, h.nrec, ErrHandshake)
}
