package runner

import (
	"errors"
	"strings"
	"testing"
)

func TestUndoStack(t *testing.T) {
	var s undoStack
	var order []string
	boom := errors.New("boom")
	for _, n := range []string{"network", "server", "trader"} {
		s.push(n, func() error {
			order = append(order, n)
			if n == "server" {
				return boom
			}
			return nil
		})
	}
	err := s.unwind()
	if got := strings.Join(order, ","); got != "trader,server,network" {
		t.Errorf("undo order %s, want trader,server,network", got)
	}
	if !errors.Is(err, boom) || !strings.Contains(err.Error(), "stopping server: boom") {
		t.Errorf("unwind error %v, want the server's, named", err)
	}
	order = nil
	if err := s.unwind(); err != nil || len(order) != 0 {
		t.Errorf("second unwind ran %v (err %v), want nothing", order, err)
	}
}
