package tlsdec

import (
	"encoding/hex"
	"errors"

	"github.com/cloudpcap/cloudpcap/monitor/keyring"
	"github.com/cloudpcap/cloudpcap/monitor/stream"
)

// Record content types.
const (
	typeChangeCipherSpec = 20
	typeAlert            = 21
	typeHandshake        = 22
	typeApplicationData  = 23
	typeHeartbeat        = 24
)

const (
	headerLen = 5
	// maxCiphertext is the largest record payload accepted (RFC 5246 §6.2.3:
	// 2^14 + 2048; TLS 1.3 allows less).
	maxCiphertext = 1<<14 + 2048
	// maxHandshakeMsg bounds a reassembled handshake message; longer ones
	// are skipped.
	maxHandshakeMsg = 1 << 20
	// maxResyncScan is how far past a gap a direction is scanned for a
	// record header before it is given up.
	maxResyncScan = 1 << 20
	// maxGapSeqTries bounds the sequence numbers tried after a gap.
	maxGapSeqTries = 4096
	// maxConsecutiveFails stops a direction whose records keep failing.
	maxConsecutiveFails = 8
	// maxErrors is how many errors a Conn keeps (all are counted).
	maxErrors = 16
	// DefaultMaxPending is Config.MaxPending's default.
	DefaultMaxPending = 4 << 20
)

// Consumer receives what a Conn decodes. Slices are valid only during the
// call.
type Consumer interface {
	// AppData delivers the plaintext of one application_data record and the
	// capture times of the segment that carried its first byte and of the
	// one that completed it.
	AppData(dir stream.Dir, b []byte, span stream.Span)
	// Alert reports a TLS alert (plaintext or decrypted).
	Alert(dir stream.Dir, level, desc uint8, span stream.Span)
	// HandshakeDone is called once, when both directions' Finished messages
	// have been decrypted; info stays owned by the Conn.
	HandshakeDone(info *Info)
}

// ConsumerFuncs adapts functions to a Consumer; nil fields are ignored.
type ConsumerFuncs struct {
	OnAppData       func(dir stream.Dir, b []byte, span stream.Span)
	OnAlert         func(dir stream.Dir, level, desc uint8, span stream.Span)
	OnHandshakeDone func(info *Info)
}

func (f ConsumerFuncs) AppData(dir stream.Dir, b []byte, span stream.Span) {
	if f.OnAppData != nil {
		f.OnAppData(dir, b, span)
	}
}

func (f ConsumerFuncs) Alert(dir stream.Dir, level, desc uint8, span stream.Span) {
	if f.OnAlert != nil {
		f.OnAlert(dir, level, desc, span)
	}
}

func (f ConsumerFuncs) HandshakeDone(info *Info) {
	if f.OnHandshakeDone != nil {
		f.OnHandshakeDone(info)
	}
}

// Config is a Conn's configuration.
type Config struct {
	// Keys is where secrets are looked up. Nil: nothing is decrypted (records
	// count as NoKey), the handshake is still parsed.
	Keys *keyring.Store
	// MaxPending bounds the bytes of encrypted records held per connection
	// while their key is not in the key log yet. 0 means DefaultMaxPending;
	// negative means none are held.
	MaxPending int
}

// Info describes a connection, as far as the handshake has been seen.
type Info struct {
	Version          uint16 // negotiated protocol version; 0 before ServerHello
	Suite            uint16 // negotiated cipher suite
	ClientVersion    uint16 // ClientHello.legacy_version
	ClientRandom     [32]byte
	HaveClientRandom bool
	ServerRandom     [32]byte
	SNI              string
	ALPN             string   // negotiated protocol
	ClientALPN       []string // protocols offered
	OfferedSuites    []uint16
	OfferedVersions  []uint16 // supported_versions of the ClientHello
	HelloRetry       bool     // the server sent a HelloRetryRequest
	CertCN           string   // subject common name of the server's leaf certificate
	CertSANs         []string // DNS names of the leaf certificate
	Decryptable      bool     // the suite is one this package decrypts
}

// SuiteName is SuiteName(i.Suite).
func (i *Info) SuiteName() string { return SuiteName(i.Suite) }

// Stats counts what a Conn has seen.
type Stats struct {
	Records      uint64 // complete records parsed, both directions
	Decrypted    uint64 // records decrypted and authenticated
	NoKey        uint64 // encrypted records not decrypted for lack of a key
	AuthFailures uint64 // records whose tag did not verify
	Unsupported  uint64 // encrypted records of a suite not decrypted here (CBC, ...)
	EarlyData    uint64 // 0-RTT records skipped
	BadRecords   uint64 // malformed records and handshake messages
	Alerts       uint64
	KeyUpdates   uint64
	AppBytes     uint64 // application data bytes delivered
	Gaps         uint64 // Gap calls
	GapBytes     uint64
	Resyncs      uint64 // record boundaries found again after a gap
	Stopped      uint64 // directions given up (not TLS, lost after a gap, failures)
	NotTLS       uint64 // directions that did not look like TLS
	Pending      int    // bytes currently held waiting for a key
}

// Add adds o's counters to s (Pending included).
func (s *Stats) Add(o Stats) {
	s.Records += o.Records
	s.Decrypted += o.Decrypted
	s.NoKey += o.NoKey
	s.AuthFailures += o.AuthFailures
	s.Unsupported += o.Unsupported
	s.EarlyData += o.EarlyData
	s.BadRecords += o.BadRecords
	s.Alerts += o.Alerts
	s.KeyUpdates += o.KeyUpdates
	s.AppBytes += o.AppBytes
	s.Gaps += o.Gaps
	s.GapBytes += o.GapBytes
	s.Resyncs += o.Resyncs
	s.Stopped += o.Stopped
	s.NotTLS += o.NotTLS
	s.Pending += o.Pending
}

type phase uint8

const (
	phasePlain     phase = iota // records in the clear
	phaseHandshake              // TLS 1.3 handshake traffic keys
	phaseApp                    // application traffic keys (TLS 1.3), or TLS 1.2 after ChangeCipherSpec
)

type pendRec struct {
	off, n int
	span   stream.Span
}

// half is one direction of a connection.
type half struct {
	dir       stream.Dir
	buf       []byte // the record being assembled (header first), then decrypted in place
	bufFirst  int64  // capture time of buf[0]
	nrec      uint64 // records completed in this direction
	phase     phase
	keys      *recordKeys
	noKey     bool // keys will never come: count encrypted records as NoKey
	stopped   bool
	hs        []byte // handshake message reassembly
	hsSkip    int    // bytes of an oversized handshake message still to skip
	switchApp bool   // TLS 1.3: switch to application keys after this record
	keyUpdate bool   // TLS 1.3: KeyUpdate after this record
	finished  bool   // Finished decrypted
	decrypted bool   // some record decrypted in this direction
	fails     int    // consecutive decryption failures
	ccsEarly  bool   // ChangeCipherSpec seen before the version was known
	scratch   []byte // copy of a handshake-phase record, for a second try
	deferHS   bool   // c2s: TLS 1.3 ServerHello seen before the ClientHello
	switchHS  bool   // c2s: switch to handshake keys after this record

	resync     bool // scanning for a record header after a gap
	lost       int  // bytes lost since the last good record (gap, partial record, skipped)
	afterGap   bool // next decryption must search the sequence number
	pend       []byte
	pendRecs   []pendRec
	pendHead   int
	first      bool // the first record header has been checked
	earlyMaybe bool // c2s: ClientHello offered 0-RTT and nothing decrypted yet
}

// Conn decodes one TLS connection. It implements stream.Handler.
type Conn struct {
	key      stream.ConnKey
	cfg      Config
	out      Consumer
	info     Info
	stats    Stats
	h        [2]half
	suite    *suite
	secrets  keyring.Secrets
	haveSec  bool
	waitGen  uint64 // store generation when secrets were last looked up
	retryGen uint64 // store generation when Data last retried
	errs     []error
	nerrs    int
	doneSent bool
	closed   bool
	missing  bool // some records never found their key

	retryNeeded   bool // a hello arrived: waiting records may proceed
	noClientHello bool // the client direction began (or lost its start) without a ClientHello
}

var _ stream.Handler = (*Conn)(nil)

// NewConn returns a decoder for the connection key. out receives the
// decrypted data; it must not be nil (use ConsumerFuncs{} to discard).
func NewConn(key stream.ConnKey, cfg Config, out Consumer) *Conn {
	if cfg.MaxPending == 0 {
		cfg.MaxPending = DefaultMaxPending
	}
	c := &Conn{key: key, cfg: cfg, out: out}
	c.h[0].dir = stream.ClientToServer
	c.h[1].dir = stream.ServerToClient
	return c
}

// Info returns what is known of the connection. The slices are shared.
func (c *Conn) Info() Info { return c.info }

// Stats returns the connection's counters.
func (c *Conn) Stats() Stats { return c.stats }

// Errors returns up to 16 problems met (Stats counts all of them), in order.
func (c *Conn) Errors() []error { return c.errs }

// MissingKey returns the client random (hex; not a secret) of a connection
// whose encrypted records could not all be decrypted for want of a key.
func (c *Conn) MissingKey() (clientRandomHex string, ok bool) {
	if !c.missing || !c.info.HaveClientRandom {
		return "", false
	}
	return hex.EncodeToString(c.info.ClientRandom[:]), true
}

func (c *Conn) fail(h *half, rec uint64, err error) {
	c.nerrs++
	if len(c.errs) < maxErrors {
		c.errs = append(c.errs, &Error{Conn: c.key, Dir: h.dir, Record: rec, Err: err})
	}
}

func (c *Conn) stop(h *half, err error) {
	if h.stopped {
		return
	}
	h.stopped = true
	c.stats.Stopped++
	c.lostClientHello(h)
	c.fail(h, h.nrec, err)
	c.dropPending(h)
}

// Data implements stream.Handler.
func (c *Conn) Data(dir stream.Dir, b []byte, ts int64) {
	h := &c.h[dir&1]
	if c.closed || h.stopped {
		return
	}
	if h.pendHead < len(h.pendRecs) && c.cfg.Keys != nil {
		if g := c.cfg.Keys.Generation(); g != c.retryGen {
			c.retryGen = g
			c.Retry()
		}
	}
	for len(b) > 0 && !h.stopped {
		if h.resync {
			b = c.scan(h, b, ts)
			continue
		}
		if len(h.buf) == 0 {
			h.bufFirst = ts
		}
		if len(h.buf) < headerLen {
			n := min(headerLen-len(h.buf), len(b))
			h.buf = append(h.buf, b[:n]...)
			b = b[n:]
			if len(h.buf) < headerLen {
				break
			}
			if !c.checkHeader(h) {
				continue
			}
		}
		need := headerLen + (int(h.buf[3])<<8 | int(h.buf[4]))
		n := min(need-len(h.buf), len(b))
		h.buf = append(h.buf, b[:n]...)
		b = b[n:]
		if len(h.buf) == need {
			c.record(h, h.buf, stream.Span{FirstNS: h.bufFirst, LastNS: ts}, false)
			h.buf = h.buf[:0]
		}
	}
	if c.retryNeeded {
		c.Retry()
	}
}

// plausibleHeader reports whether b[:5] looks like a TLS record header.
func plausibleHeader(b []byte) bool {
	if b[0] < typeChangeCipherSpec || b[0] > typeHeartbeat || b[1] != 3 || b[2] > 4 {
		return false
	}
	return int(b[3])<<8|int(b[4]) <= maxCiphertext
}

// checkHeader validates the header in h.buf; on failure it reports the
// stream as not TLS (first record) or starts a resync.
func (c *Conn) checkHeader(h *half) bool {
	first := !h.first
	h.first = true
	if plausibleHeader(h.buf) {
		return true
	}
	if first {
		c.stats.NotTLS++
		err := ErrNotTLS
		if h.buf[0]&0x80 != 0 && h.buf[2] == 1 {
			err = ErrSSLv2
		}
		c.stop(h, err)
		h.buf = h.buf[:0]
		return false
	}
	c.stats.BadRecords++
	c.fail(h, h.nrec+1, ErrBadHeader)
	// Scan again from the second byte of the bad header: scan finds the
	// remaining 4 bytes in h.buf when the next bytes arrive.
	h.lost++
	h.buf = h.buf[:copy(h.buf, h.buf[1:])]
	h.resync = true
	return false
}

// Gap implements stream.Handler.
func (c *Conn) Gap(dir stream.Dir, n int, ts int64) {
	h := &c.h[dir&1]
	c.stats.Gaps++
	c.stats.GapBytes += uint64(max(n, 0))
	if c.closed || h.stopped {
		return
	}
	h.first = true
	c.lostClientHello(h)
	h.lost += len(h.buf) + max(n, 0)
	h.buf = h.buf[:0]
	h.hs = h.hs[:0]
	h.hsSkip = 0
	h.resync = true
}

// scan looks for a record header after a gap. It consumes b up to the
// header found (left in h.buf with resync off) or all of it.
func (c *Conn) scan(h *half, b []byte, ts int64) []byte {
	// Keep up to the last 4 bytes of a previous call that might start a header.
	h.buf = append(h.buf, b...)
	buf := h.buf
	for i := 0; i+headerLen <= len(buf); i++ {
		if !plausibleHeader(buf[i:]) {
			continue
		}
		next := i + headerLen + (int(buf[i+3])<<8 | int(buf[i+4]))
		if next+headerLen <= len(buf) && !plausibleHeader(buf[next:]) {
			continue
		}
		if h.phase != phasePlain && buf[i] != typeApplicationData && buf[i] != typeAlert && buf[i] != typeHandshake {
			continue
		}
		h.lost += i
		c.stats.Resyncs++
		h.resync = false
		h.afterGap = h.phase != phasePlain
		// Re-feed from the header: the bytes are already ours, so move them
		// to a scratch copy first (Data appends into h.buf).
		rest := append([]byte(nil), buf[i:]...)
		h.buf = h.buf[:0]
		h.bufFirst = ts
		return rest
	}
	keep := min(len(buf), headerLen-1)
	h.lost += len(buf) - keep
	copy(h.buf, buf[len(buf)-keep:])
	h.buf = h.buf[:keep]
	if h.lost > maxResyncScan {
		c.stop(h, ErrGapLost)
	}
	return nil
}

// record handles one complete record (header included). fromPending is set
// when it comes from the pending queue. It reports whether the record must
// keep waiting (only possible when fromPending).
func (c *Conn) record(h *half, rec []byte, span stream.Span, fromPending bool) (wait bool) {
	if !fromPending {
		h.nrec++
		c.stats.Records++
		if h.pendHead < len(h.pendRecs) {
			c.enqueue(h, rec, span)
			return false
		}
	}
	typ := rec[0]
	if typ != typeHandshake {
		c.lostClientHello(h)
	}
	if h.phase == phasePlain {
		if typ == typeApplicationData || (h.ccsEarly && typ != typeAlert) {
			// Encrypted before we know how: the ServerHello has not been seen
			// yet (0-RTT, or the client's flight overtook it in the capture).
			if c.info.Version == 0 && c.info.HaveClientRandom {
				return c.wait(h, rec, span, fromPending)
			}
			c.countNoKey(h, rec)
			return false
		}
		c.plaintext(h, rec, span)
		return false
	}
	if typ == typeChangeCipherSpec && c.info.Version == VersionTLS13 {
		return false // middlebox compatibility record
	}
	if h.noKey {
		c.countNoKey(h, rec)
		return false
	}
	if c.suite == nil || c.suite.aead == aeadNone {
		c.stats.Unsupported++
		return false
	}
	if h.keys == nil && !c.loadKeys(h) {
		if h.noKey {
			c.countNoKey(h, rec)
			return false
		}
		return c.wait(h, rec, span, fromPending)
	}
	c.decrypt(h, rec, span)
	return false
}

func (c *Conn) countNoKey(h *half, rec []byte) {
	if rec[0] == typeChangeCipherSpec {
		return
	}
	c.stats.NoKey++
	c.missing = true
}

// plaintext handles a record before encryption starts in its direction.
func (c *Conn) plaintext(h *half, rec []byte, span stream.Span) {
	payload := rec[headerLen:]
	switch rec[0] {
	case typeHandshake:
		c.handshake(h, payload)
		if h.switchHS {
			h.switchHS = false
			h.phase = phaseHandshake
		}
	case typeChangeCipherSpec:
		switch c.info.Version {
		case VersionTLS13:
		case 0:
			h.ccsEarly = true
		default:
			h.phase = phaseApp
		}
	case typeAlert:
		c.alert(h, payload, span)
	}
}

func (c *Conn) alert(h *half, p []byte, span stream.Span) {
	if len(p) < 2 {
		c.stats.BadRecords++
		return
	}
	c.stats.Alerts++
	c.out.Alert(h.dir, p[0], p[1], span)
}

// decrypt opens one record with h's keys and dispatches its content.
func (c *Conn) decrypt(h *half, rec []byte, span stream.Span) {
	k := h.keys
	var typ uint8
	var plain []byte
	var err error
	if h.afterGap {
		typ, plain, err = c.searchSeq(h, rec)
		if err == ErrGapLost {
			return // searchSeq stopped the direction
		}
	} else {
		if h.phase == phaseHandshake {
			// A failed open may wipe the record (AEADs clear their output),
			// and the application keys may still need to try it.
			h.scratch = append(h.scratch[:0], rec...)
		}
		typ, plain, err = k.open(rec, k.seq)
	}
	if err != nil && errors.Is(err, errAuth) && h.phase == phaseHandshake && !h.afterGap {
		copy(rec, h.scratch)
		if c.tryAppKeys(h, rec) {
			typ, plain, err = h.keys.open(rec, 0)
			k = h.keys
		}
	}
	if err != nil {
		if h.earlyMaybe && !h.decrypted && errors.Is(err, errAuth) {
			// 0-RTT data under the early traffic secret, which the server
			// may have rejected: skipped, as the server itself does.
			c.stats.EarlyData++
			return
		}
		k.seq++
		if errors.Is(err, errAuth) {
			c.stats.AuthFailures++
		} else {
			c.stats.BadRecords++
		}
		c.fail(h, h.nrec, err)
		h.fails++
		if h.fails >= maxConsecutiveFails {
			c.stop(h, ErrTooManyFails)
		}
		return
	}
	k.seq++
	h.fails = 0
	h.decrypted = true
	h.earlyMaybe = false
	c.stats.Decrypted++
	switch typ {
	case typeApplicationData:
		c.stats.AppBytes += uint64(len(plain))
		c.out.AppData(h.dir, plain, span)
	case typeHandshake:
		c.handshake(h, plain)
	case typeAlert:
		c.alert(h, plain, span)
	}
	if h.switchApp {
		h.switchApp = false
		h.phase = phaseApp
		h.keys = nil
		c.loadKeys(h) // if the secret is missing, the next record waits for it
		h.finished = true
		c.maybeDone()
	}
	if h.keyUpdate {
		h.keyUpdate = false
		if h.keys != nil {
			if err := h.keys.update(); err != nil {
				c.stop(h, err)
				return
			}
			c.stats.KeyUpdates++
		}
	}
}

// searchSeq decrypts the first record after a gap, trying the sequence
// numbers that the lost bytes allow.
func (c *Conn) searchSeq(h *half, rec []byte) (uint8, []byte, error) {
	k := h.keys
	h.afterGap = false
	lost := h.lost
	h.lost = 0
	lo := k.seq + uint64(lost/(headerLen+maxCiphertext))
	hi := k.seq + uint64(lost/(headerLen+1+k.aead.Overhead())) + 1
	if hi-lo > maxGapSeqTries {
		hi = lo + maxGapSeqTries
	}
	// The record is decrypted in place, so every try needs the original bytes.
	orig := append([]byte(nil), rec...)
	try := func(seq uint64) (uint8, []byte, error) {
		copy(rec, orig)
		return k.open(rec, seq)
	}
	if k.explicitNonceLen() == 8 && len(rec) >= headerLen+8 {
		// Most TLS 1.2 GCM stacks send the sequence number as explicit nonce.
		var seq uint64
		for _, x := range rec[headerLen : headerLen+8] {
			seq = seq<<8 | uint64(x)
		}
		if seq >= k.seq && seq <= k.seq+uint64(lost)+1 {
			if typ, p, err := try(seq); err == nil {
				k.seq = seq
				return typ, p, nil
			}
		}
	}
	for seq := lo; seq <= hi; seq++ {
		if typ, p, err := try(seq); err == nil {
			k.seq = seq
			return typ, p, nil
		}
	}
	copy(rec, orig)
	c.stop(h, ErrGapLost)
	return 0, nil, ErrGapLost
}

// tryAppKeys handles a TLS 1.3 direction that missed its Finished message
// (a gap in the handshake): if the record opens with the application keys,
// switch to them.
func (c *Conn) tryAppKeys(h *half, rec []byte) bool {
	label := keyring.ClientTrafficSecret0
	if h.dir == stream.ServerToClient {
		label = keyring.ServerTrafficSecret0
	}
	sec := c.secrets.Get(label)
	if sec == nil {
		return false
	}
	k, err := newKeys13(c.suite, sec)
	if err != nil {
		return false
	}
	orig := append([]byte(nil), rec...)
	if _, _, err := k.open(rec, 0); err != nil {
		copy(rec, orig)
		return false
	}
	copy(rec, orig)
	h.keys, h.phase, h.finished = k, phaseApp, true
	c.maybeDone()
	return true
}

func (c *Conn) maybeDone() {
	if !c.doneSent && c.h[0].finished && c.h[1].finished {
		c.doneSent = true
		c.out.HandshakeDone(&c.info)
	}
}

func (c *Conn) gen() uint64 {
	if c.cfg.Keys == nil {
		return 0
	}
	return c.cfg.Keys.Generation()
}

// loadKeys sets h.keys for h's phase if the key log has the secret. It sets
// h.noKey when no key can ever be found.
func (c *Conn) loadKeys(h *half) bool {
	if c.cfg.Keys == nil {
		h.noKey = true
		return false
	}
	if !c.info.HaveClientRandom {
		// The ClientHello may still come (the server's bytes were handed
		// over first); once the client direction started without one, or
		// lost its start, it never will.
		if c.noClientHello {
			h.noKey = true
		}
		return false
	}
	if !c.haveSec || c.waitGen != c.gen() || !c.hasSecretFor(h) {
		c.waitGen = c.gen()
		c.secrets, c.haveSec = c.cfg.Keys.Lookup(c.info.ClientRandom)
	}
	if !c.hasSecretFor(h) {
		return false
	}
	var err error
	if c.suite.tls13 {
		h.keys, err = newKeys13(c.suite, c.secrets.Get(c.labelFor(h)))
	} else {
		cKey, sKey, cIV, sIV := keyBlock12(c.suite, c.secrets.Get(keyring.ClientRandom), &c.info.ClientRandom, &c.info.ServerRandom)
		if h.dir == stream.ClientToServer {
			h.keys, err = newKeys12(c.suite, cKey, cIV)
		} else {
			h.keys, err = newKeys12(c.suite, sKey, sIV)
		}
	}
	if err != nil {
		c.stop(h, err)
		return false
	}
	return true
}

func (c *Conn) labelFor(h *half) keyring.Label {
	if !c.suite.tls13 {
		return keyring.ClientRandom
	}
	switch {
	case h.dir == stream.ClientToServer && h.phase == phaseHandshake:
		return keyring.ClientHandshakeTrafficSecret
	case h.dir == stream.ClientToServer:
		return keyring.ClientTrafficSecret0
	case h.phase == phaseHandshake:
		return keyring.ServerHandshakeTrafficSecret
	default:
		return keyring.ServerTrafficSecret0
	}
}

func (c *Conn) hasSecretFor(h *half) bool { return c.secrets.Has(c.labelFor(h)) }

// wait queues a record until its key (or the ServerHello) arrives.
func (c *Conn) wait(h *half, rec []byte, span stream.Span, fromPending bool) bool {
	if fromPending {
		return true
	}
	c.enqueue(h, rec, span)
	return false
}

func (c *Conn) enqueue(h *half, rec []byte, span stream.Span) {
	if c.stats.Pending+len(rec) > c.cfg.MaxPending {
		// Over budget: this direction will not be decrypted.
		c.countNoKey(h, rec)
		c.dropPending(h)
		h.noKey = true
		return
	}
	if h.pendHead == len(h.pendRecs) {
		h.pend, h.pendRecs, h.pendHead = h.pend[:0], h.pendRecs[:0], 0
	}
	h.pendRecs = append(h.pendRecs, pendRec{off: len(h.pend), n: len(rec), span: span})
	h.pend = append(h.pend, rec...)
	c.stats.Pending += len(rec)
}

// dropPending counts h's waiting records as having no key.
func (c *Conn) dropPending(h *half) {
	for _, p := range h.pendRecs[h.pendHead:] {
		c.countNoKey(h, h.pend[p.off:p.off+p.n])
		c.stats.Pending -= p.n
	}
	h.pend, h.pendRecs, h.pendHead = h.pend[:0], h.pendRecs[:0], 0
}

// Retry decrypts records that were waiting for their key, if the key log
// has them now. The live monitor calls it when the key store changes
// (keyring.Store.Changed); Data also retries when it sees the store's
// generation move.
func (c *Conn) Retry() {
	if c.closed {
		return
	}
	c.retryNeeded = false
	progress := true
	for progress {
		progress = false
		for d := range c.h {
			h := &c.h[d]
			for h.pendHead < len(h.pendRecs) && !h.stopped {
				p := h.pendRecs[h.pendHead]
				wait := c.record(h, h.pend[p.off:p.off+p.n], p.span, true)
				if h.pendHead >= len(h.pendRecs) { // the queue was dropped meanwhile
					progress = true
					break
				}
				if wait {
					break
				}
				h.pendHead++
				c.stats.Pending -= p.n
				progress = true
			}
		}
	}
}

// KeysChanged is Retry under the name a key-log watcher looks for.
func (c *Conn) KeysChanged() { c.Retry() }

// Close implements stream.Handler: it retries waiting records one last time
// and counts those still without a key as NoKey.
func (c *Conn) Close(ts int64) {
	if c.closed {
		return
	}
	c.Retry()
	c.closed = true
	for d := range c.h {
		c.dropPending(&c.h[d])
	}
}

// lostClientHello notes that the client direction can no longer deliver a
// ClientHello, so records waiting for the client random never will get it.
func (c *Conn) lostClientHello(h *half) {
	if h.dir == stream.ClientToServer && !c.info.HaveClientRandom && !c.noClientHello {
		c.noClientHello = true
		c.retryNeeded = true
	}
}
