package report

import (
	"bufio"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// A minimal Chrome DevTools Protocol client for the browser tests: start
// headless Chromium, open one page, collect console errors, exceptions,
// dialogs and network requests, evaluate expressions, take a screenshot.

type browser struct {
	cmd     *exec.Cmd
	ws      *websocket.Conn
	session string

	mu      sync.Mutex
	nextID  int64
	pending map[int64]chan cdpMsg
	events  []cdpMsg
	loaded  chan struct{}
	readErr error
	done    chan struct{}
}

type cdpMsg struct {
	ID        int64           `json:"id,omitempty"`
	Method    string          `json:"method,omitempty"`
	Params    json.RawMessage `json:"params,omitempty"`
	Result    json.RawMessage `json:"result,omitempty"`
	Error     *cdpError       `json:"error,omitempty"`
	SessionID string          `json:"sessionId,omitempty"`
}

type cdpError struct {
	Code    int    `json:"code"`
	Message string `json:"message"`
}

// chromiumPath finds the browser; under CI=true its absence fails the test.
func chromiumPath(t *testing.T) string {
	t.Helper()
	for _, n := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(n); err == nil {
			return p
		}
	}
	if os.Getenv("CI") == "true" {
		t.Fatal("CI=true: chromium is not installed (make deps-test installs it)")
	}
	t.Skip("skipping: chromium is not installed (make deps-test installs it)")
	return ""
}

func startBrowser(t *testing.T, ctx context.Context) *browser {
	t.Helper()
	path := chromiumPath(t)
	cmd := exec.CommandContext(ctx, path, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
		"--disable-background-networking", "--disable-component-update", "--disable-sync", "--disable-extensions",
		"--user-data-dir="+t.TempDir(), "--remote-debugging-port=0", "--remote-debugging-address=127.0.0.1", "about:blank")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting %s: %v", path, err)
	}
	b := &browser{cmd: cmd, pending: map[int64]chan cdpMsg{}, loaded: make(chan struct{}, 4), done: make(chan struct{})}
	t.Cleanup(func() {
		if b.ws != nil {
			// Ask the browser to quit so its helpers stop writing to the
			// profile folder before the test removes it.
			if c, err := b.send("", "Browser.close", map[string]any{}); err == nil {
				select {
				case <-c:
				case <-time.After(5 * time.Second):
				}
			}
			b.ws.Close()
			<-b.done
		}
		exited := make(chan struct{})
		go func() { _ = cmd.Wait(); close(exited) }()
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			<-exited
		}
	})
	urlc := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		sent := false
		for sc.Scan() {
			if _, u, ok := strings.Cut(sc.Text(), "DevTools listening on "); ok && !sent {
				urlc <- strings.TrimSpace(u)
				sent = true
			}
		}
		if !sent {
			close(urlc)
		}
	}()
	var wsURL string
	select {
	case u, ok := <-urlc:
		if !ok {
			t.Fatal("chromium exited before opening the DevTools socket")
		}
		wsURL = u
	case <-time.After(30 * time.Second):
		t.Fatal("chromium did not open the DevTools socket within 30s")
	}
	ws, _, err := websocket.DefaultDialer.DialContext(ctx, wsURL, nil)
	if err != nil {
		t.Fatalf("DevTools socket: %v", err)
	}
	ws.SetReadLimit(256 << 20)
	b.ws = ws
	go b.read()

	var target struct {
		TargetID string `json:"targetId"`
	}
	b.call(t, "", "Target.createTarget", map[string]any{"url": "about:blank"}, &target)
	var att struct {
		SessionID string `json:"sessionId"`
	}
	b.call(t, "", "Target.attachToTarget", map[string]any{"targetId": target.TargetID, "flatten": true}, &att)
	b.session = att.SessionID
	for _, d := range []string{"Page.enable", "Runtime.enable", "Log.enable", "Network.enable"} {
		b.call(t, b.session, d, map[string]any{}, nil)
	}
	b.call(t, b.session, "Emulation.setDeviceMetricsOverride", map[string]any{"width": 1400, "height": 1000, "deviceScaleFactor": 1, "mobile": false}, nil)
	return b
}

func (b *browser) read() {
	defer close(b.done)
	for {
		_, data, err := b.ws.ReadMessage()
		if err != nil {
			b.mu.Lock()
			b.readErr = err
			for id, c := range b.pending {
				close(c)
				delete(b.pending, id)
			}
			b.mu.Unlock()
			return
		}
		var m cdpMsg
		if json.Unmarshal(data, &m) != nil {
			continue
		}
		b.mu.Lock()
		if m.ID != 0 {
			if c := b.pending[m.ID]; c != nil {
				c <- m
				delete(b.pending, m.ID)
			}
			b.mu.Unlock()
			continue
		}
		b.events = append(b.events, m)
		b.mu.Unlock()
		switch m.Method {
		case "Page.loadEventFired":
			select {
			case b.loaded <- struct{}{}:
			default:
			}
		case "Page.javascriptDialogOpening":
			// Dismiss it so the page goes on; the test fails on the event.
			go b.send(m.SessionID, "Page.handleJavaScriptDialog", map[string]any{"accept": true})
		}
	}
}

func (b *browser) send(session, method string, params any) (chan cdpMsg, error) {
	b.mu.Lock()
	if b.readErr != nil {
		b.mu.Unlock()
		return nil, b.readErr
	}
	b.nextID++
	id := b.nextID
	c := make(chan cdpMsg, 1)
	b.pending[id] = c
	b.mu.Unlock()
	msg := map[string]any{"id": id, "method": method, "params": params}
	if session != "" {
		msg["sessionId"] = session
	}
	data, _ := json.Marshal(msg)
	b.mu.Lock()
	err := b.ws.WriteMessage(websocket.TextMessage, data)
	b.mu.Unlock()
	return c, err
}

func (b *browser) call(t *testing.T, session, method string, params, out any) {
	t.Helper()
	c, err := b.send(session, method, params)
	if err != nil {
		t.Fatalf("%s: %v", method, err)
	}
	select {
	case m, ok := <-c:
		if !ok {
			t.Fatalf("%s: DevTools socket closed", method)
		}
		if m.Error != nil {
			t.Fatalf("%s: %s", method, m.Error.Message)
		}
		if out != nil {
			if err := json.Unmarshal(m.Result, out); err != nil {
				t.Fatalf("%s: %v", method, err)
			}
		}
	case <-time.After(30 * time.Second):
		t.Fatalf("%s: no answer in 30s", method)
	}
}

// navigate opens url and waits for the load event.
func (b *browser) navigate(t *testing.T, url string) {
	t.Helper()
	for len(b.loaded) > 0 {
		<-b.loaded
	}
	var res struct {
		ErrorText string `json:"errorText"`
	}
	b.call(t, b.session, "Page.navigate", map[string]any{"url": url}, &res)
	if res.ErrorText != "" {
		t.Fatalf("navigate %s: %s", url, res.ErrorText)
	}
	select {
	case <-b.loaded:
	case <-time.After(30 * time.Second):
		t.Fatalf("navigate %s: no load event in 30s", url)
	}
}

// eval evaluates a JavaScript expression and decodes its JSON value.
func (b *browser) eval(t *testing.T, expr string, out any) {
	t.Helper()
	var res struct {
		Result struct {
			Value json.RawMessage `json:"value"`
		} `json:"result"`
		Exception *struct {
			Text string `json:"text"`
		} `json:"exceptionDetails"`
	}
	b.call(t, b.session, "Runtime.evaluate", map[string]any{"expression": expr, "returnByValue": true}, &res)
	if res.Exception != nil {
		t.Fatalf("evaluating %q: %s", expr, res.Exception.Text)
	}
	if err := json.Unmarshal(res.Result.Value, out); err != nil {
		t.Fatalf("evaluating %q: %v (value %s)", expr, err, res.Result.Value)
	}
}

// screenshot writes the whole page as PNG.
func (b *browser) screenshot(t *testing.T, path string) {
	t.Helper()
	var size struct {
		W, H float64
	}
	b.eval(t, `({W: document.documentElement.scrollWidth, H: document.documentElement.scrollHeight})`, &size)
	var res struct {
		Data []byte `json:"data"`
	}
	b.call(t, b.session, "Page.captureScreenshot", map[string]any{"format": "png", "captureBeyondViewport": true,
		"clip": map[string]any{"x": 0, "y": 0, "width": size.W, "height": min(size.H, 16000), "scale": 1}}, &res)
	if err := os.WriteFile(path, res.Data, 0o644); err != nil {
		t.Fatal(err)
	}
}

// problems lists console errors, exceptions, dialogs, failed loads and any
// request that left the machine (the page must not fetch anything).
func (b *browser) problems() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []string
	for _, m := range b.events {
		switch m.Method {
		case "Runtime.exceptionThrown":
			out = append(out, "exception: "+string(m.Params))
		case "Runtime.consoleAPICalled":
			var p struct {
				Type string `json:"type"`
			}
			_ = json.Unmarshal(m.Params, &p)
			if p.Type == "error" || p.Type == "assert" || p.Type == "warning" {
				out = append(out, "console "+p.Type+": "+string(m.Params))
			}
		case "Log.entryAdded":
			var p struct {
				Entry struct {
					Level string `json:"level"`
					Text  string `json:"text"`
				} `json:"entry"`
			}
			_ = json.Unmarshal(m.Params, &p)
			if p.Entry.Level == "error" || p.Entry.Level == "warning" {
				out = append(out, "log "+p.Entry.Level+": "+p.Entry.Text)
			}
		case "Page.javascriptDialogOpening":
			out = append(out, "dialog opened: "+string(m.Params))
		case "Network.requestWillBeSent":
			var p struct {
				Request struct {
					URL string `json:"url"`
				} `json:"request"`
			}
			_ = json.Unmarshal(m.Params, &p)
			if u := p.Request.URL; !strings.HasPrefix(u, "file://") && !strings.HasPrefix(u, "data:") && u != "about:blank" {
				out = append(out, "network request: "+u)
			}
		case "Network.loadingFailed":
			out = append(out, "loading failed: "+string(m.Params))
		}
	}
	return out
}
