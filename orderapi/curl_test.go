package orderapi

import (
	"context"
	"encoding/pem"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cloudpcap/cloudpcap/orderapi/sign"
)

// TestIntegrationCurl drives the server with the curl binary, an HTTP client
// that shares no code with ours: a signed order, an unsigned one and a
// malformed one.
func TestIntegrationCurl(t *testing.T) {
	bin, err := exec.LookPath("curl")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("curl not found (required under CI=true)")
		}
		t.Skip("curl not found; install curl to run this test")
	}
	ts := startServer(t, Config{})
	ca := filepath.Join(t.TempDir(), "ca.pem")
	der := ts.srv.TLSConfig().Certificates[0].Certificate[0]
	if err := os.WriteFile(ca, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	curl := func(body string, headers ...string) (int, string) {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		args := []string{"-sS", "--http1.1", "--cacert", ca, "-X", "POST", "-H", "Content-Type: application/json",
			"--data-binary", "@-", "-w", "\n%{http_code}", ts.url + PathOrder}
		for _, h := range headers {
			args = append(args, "-H", h)
		}
		cmd := exec.CommandContext(ctx, bin, args...)
		cmd.Stdin = strings.NewReader(body)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("curl: %v\n%s", err, out)
		}
		i := strings.LastIndexByte(string(out), '\n')
		code, err := strconv.Atoi(string(out[i+1:]))
		if err != nil {
			t.Fatalf("curl output %q", out)
		}
		return code, string(out[:i])
	}
	signed := func(body string) []string {
		now := sign.Timestamp(time.Now())
		return []string{
			sign.HeaderKey + ": " + testKey,
			sign.HeaderTimestamp + ": " + strconv.FormatInt(now, 10),
			sign.HeaderSignature + ": " + sign.Sign(testSecret, now, "POST", PathOrder, []byte(body)),
		}
	}

	code, out := curl(validBody, signed(validBody)...)
	if code != 200 || !strings.Contains(out, `"status":"NEW"`) || !strings.Contains(out, `"tick_seq":42`) {
		t.Errorf("signed: %d %s", code, out)
	}
	code, out = curl(validBody)
	if code != 401 || !strings.Contains(out, `"code":-1102`) || !strings.Contains(out, sign.HeaderKey) {
		t.Errorf("unsigned: %d %s", code, out)
	}
	bad := `{"symbol":"BTCUSDT","side":"BUY"`
	code, out = curl(bad, signed(bad)...)
	if code != 400 || !strings.Contains(out, `"code":-1100`) {
		t.Errorf("malformed: %d %s", code, out)
	}
	if st := ts.srv.Stats(); st.Accepted != 1 || st.Rejected[ReasonAuth] != 1 || st.Rejected[ReasonBadRequest] != 1 || st.Connections != 3 {
		t.Errorf("stats %+v", st)
	}
}
