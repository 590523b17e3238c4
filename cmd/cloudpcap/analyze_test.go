package main

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
)

func TestAnalyzeUsageErrors(t *testing.T) {
	tests := []struct {
		args    []string
		wantErr string
	}{
		{nil, "name at least one capture file"},
		{[]string{"c.pcap", "--profile", "nasdaq"}, "--profile"},
		{[]string{"c.pcap", "--order-tick", "bot-\\d+"}, "order-tick rule `bot-\\d+` has no group"},
		{[]string{"c.pcap", "--order-tick", "(bot"}, "order-tick rule `(bot`"},
	}
	for _, tt := range tests {
		err := runAnalyze(context.Background(), tt.args, &bytes.Buffer{}, &bytes.Buffer{})
		var ue *usageError
		if !errors.As(err, &ue) || !strings.Contains(err.Error(), tt.wantErr) {
			t.Errorf("analyze %v: error %v, want a usage error containing %q", tt.args, err, tt.wantErr)
		}
	}
}
