package runner

import (
	"errors"
	"fmt"
)

// undoStack is a repetition's one cleanup path: each step that creates
// something (the network, a link emulator, a server, the monitor, a trader)
// pushes how to remove it, and unwind runs the undos last in, first out,
// once, joining their errors. Success, failure, Ctrl-C and a crashed
// component all leave through it, so they tear down the same way.
type undoStack struct{ undos []undo }

type undo struct {
	what string
	fn   func() error
}

// push registers fn as the undo of what was just created.
func (s *undoStack) push(what string, fn func() error) {
	s.undos = append(s.undos, undo{what, fn})
}

// unwind runs every undo, newest first, and empties the stack.
func (s *undoStack) unwind() error {
	var errs []error
	for i := len(s.undos) - 1; i >= 0; i-- {
		if err := s.undos[i].fn(); err != nil {
			errs = append(errs, fmt.Errorf("stopping %s: %w", s.undos[i].what, err))
		}
	}
	s.undos = nil
	return errors.Join(errs...)
}
