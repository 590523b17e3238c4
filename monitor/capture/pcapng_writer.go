package capture

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"sync"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"
)

// Writer records packets to a pcapng file, with one interface block per
// capture point and the TLS key log embedded as Decryption Secrets Blocks,
// so that the file opens decrypted in Wireshark. Because it holds secrets,
// the file is created with mode 0600. Safe for concurrent use.
type Writer struct {
	mu   sync.Mutex
	f    *os.File
	ng   *pcapgo.NgWriter
	keys int // bytes of key log written so far
	err  error
}

// NewWriter creates path (mode 0600) with an interface per name in ifaces
// (Ethernet link type, nanosecond timestamps).
func NewWriter(path string, ifaces []string) (*Writer, error) {
	if len(ifaces) == 0 {
		return nil, errors.New("capture: a pcapng writer needs at least one interface")
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
	if err != nil {
		return nil, err
	}
	if err := f.Chmod(0o600); err != nil {
		f.Close()
		return nil, err
	}
	intf := pcapgo.DefaultNgInterface
	intf.Name = ifaces[0]
	intf.LinkType = layers.LinkTypeEthernet
	intf.TimestampResolution = 9
	opts := pcapgo.DefaultNgWriterOptions
	opts.SectionInfo.Application = "cloudpcap"
	ng, err := pcapgo.NewNgWriterInterface(f, intf, opts)
	if err != nil {
		f.Close()
		return nil, err
	}
	for _, name := range ifaces[1:] {
		intf.Name = name
		if _, err := ng.AddInterface(intf); err != nil {
			f.Close()
			return nil, err
		}
	}
	return &Writer{f: f, ng: ng}, nil
}

// WritePacket records one frame captured on interface iface (index into
// the names given to NewWriter).
func (w *Writer) WritePacket(iface int, ts int64, data []byte, origLen int) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.err != nil {
		return w.err
	}
	ci := gopacket.CaptureInfo{Timestamp: time.Unix(0, ts), CaptureLength: len(data), Length: max(origLen, len(data)), InterfaceIndex: iface}
	w.err = w.ng.WritePacket(ci, data)
	return w.err
}

// WriteKeyLog appends the part of keylog (the whole NSS key log so far) not
// yet written, as one Decryption Secrets Block. Call it whenever the key log
// grows, before the packets that need the new keys if possible (Wireshark
// reads all secrets of a file before decrypting anyway).
func (w *Writer) WriteKeyLog(keylog []byte) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.err != nil || len(keylog) <= w.keys {
		return w.err
	}
	// Whole lines only: a line still being written waits for the next call.
	end := len(keylog)
	for end > w.keys && keylog[end-1] != '\n' {
		end--
	}
	if end == w.keys {
		return nil
	}
	add := keylog[w.keys:end]
	if w.err = w.ng.Flush(); w.err != nil {
		return w.err
	}
	w.err = writeDSB(w.f, add)
	if w.err == nil {
		w.keys = end
	}
	return w.err
}

// writeDSB writes a Decryption Secrets Block (pcapng block type 0x0A,
// secrets type 'TLSK': an NSS key log).
func writeDSB(f *os.File, secrets []byte) error {
	pad := (4 - len(secrets)%4) % 4
	total := 12 + 8 + len(secrets) + pad
	b := make([]byte, 0, total)
	b = binary.LittleEndian.AppendUint32(b, 0x0000000A)
	b = binary.LittleEndian.AppendUint32(b, uint32(total))
	b = binary.LittleEndian.AppendUint32(b, 0x544c534b)
	b = binary.LittleEndian.AppendUint32(b, uint32(len(secrets)))
	b = append(b, secrets...)
	b = append(b, make([]byte, pad)...)
	b = binary.LittleEndian.AppendUint32(b, uint32(total))
	bw := bufio.NewWriter(f)
	if _, err := bw.Write(b); err != nil {
		return fmt.Errorf("capture: writing secrets block: %w", err)
	}
	return bw.Flush()
}

// Flush writes buffered packets to the file.
func (w *Writer) Flush() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.err != nil {
		return w.err
	}
	w.err = w.ng.Flush()
	return w.err
}

// Close flushes and closes the file.
func (w *Writer) Close() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	ferr := w.ng.Flush()
	cerr := w.f.Close()
	if w.err != nil {
		return w.err
	}
	return errors.Join(ferr, cerr)
}
