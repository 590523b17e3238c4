package ws

import (
	"bytes"
	"compress/flate"
	"errors"
	"io"
	"strconv"
)

// deflateTail is the empty stored block that RFC 7692 section 7.2.1 strips
// from the end of every compressed message; the receiver puts it back.
var deflateTail = [4]byte{0x00, 0x00, 0xff, 0xff}

// inflater inflates permessage-deflate messages of one direction, reusing
// one flate reader and, with context takeover, carrying the last
// 2^window_bits bytes of output from message to message as the dictionary.
type inflater struct {
	takeover bool
	wsize    int
	window   []byte
	src      bytes.Reader
	fr       io.ReadCloser
}

func (f *inflater) init(bits int, takeover bool) {
	f.takeover = takeover
	f.wsize = 1 << bits
	if takeover {
		f.window = make([]byte, 0, f.wsize)
	}
}

// inflate appends the inflation of in (the concatenated payload of one
// message; cap(in) must leave room for the 4-byte tail) to out, bounded by
// max bytes. On failure it returns a reason and ErrInflate or ErrTooLarge.
func (f *inflater) inflate(in, out []byte, max int) ([]byte, string, error) {
	in = append(in, deflateTail[:]...)
	f.src.Reset(in)
	var dict []byte
	if f.takeover {
		dict = f.window
	}
	if f.fr == nil {
		f.fr = flate.NewReaderDict(&f.src, dict)
	} else if err := f.fr.(flate.Resetter).Reset(&f.src, dict); err != nil {
		return out, "resetting the inflater: " + err.Error(), ErrInflate
	}
	for {
		if len(out) == cap(out) {
			if len(out) > max {
				return out, "inflated message of more than " + strconv.Itoa(max) + " bytes", ErrTooLarge
			}
			grow := len(out)
			if grow < 512 {
				grow = 512
			}
			if len(out)+grow > max+1 {
				grow = max + 1 - len(out)
			}
			out = append(out[:cap(out)], make([]byte, grow)...)[:len(out)]
		}
		n, err := f.fr.Read(out[len(out):cap(out)])
		out = out[:len(out)+n]
		if len(out) > max {
			return out, "inflated message of more than " + strconv.Itoa(max) + " bytes", ErrTooLarge
		}
		if err == nil {
			continue
		}
		// A message ends with a sync flush and no final block, so the
		// reader runs out of input between blocks; a final block ends it
		// with io.EOF. Either is the end only once all input is used.
		if (err == io.EOF || errors.Is(err, io.ErrUnexpectedEOF)) && f.src.Len() == 0 {
			break
		}
		return out, "inflating: " + err.Error(), ErrInflate
	}
	if f.takeover {
		f.slide(out)
	}
	return out, "", nil
}

// slide keeps the last wsize bytes of window+out in window.
func (f *inflater) slide(out []byte) {
	w := f.window
	if len(out) >= f.wsize {
		w = append(w[:0], out[len(out)-f.wsize:]...)
	} else {
		if keep := f.wsize - len(out); len(w) > keep {
			n := copy(w, w[len(w)-keep:])
			w = w[:n]
		}
		w = append(w, out...)
	}
	f.window = w
}
