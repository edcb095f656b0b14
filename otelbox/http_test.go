package otelbox_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"go.opentelemetry.io/otel/trace"

	"github.com/agentbox/agentbox"
	"github.com/agentbox/agentbox/agentboxtest"
	"github.com/agentbox/agentbox/otelbox"
	"github.com/agentbox/agentbox/uistream"
)

func TestTransport(t *testing.T) {
	var (
		mu   sync.Mutex
		seen []string
	)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		seen = append(seen, r.Header.Get("traceparent"))
		mu.Unlock()
	}))
	defer srv.Close()
	client := &http.Client{Transport: otelbox.Transport(srv.Client().Transport)}

	tel := newTelemetry(t)
	ctx, span := tel.tp.Tracer("test").Start(t.Context(), "caller")
	defer span.End()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if len(req.Header) != 0 {
		t.Errorf("the request was modified: %v", req.Header)
	}

	req, err = http.NewRequestWithContext(t.Context(), http.MethodGet, srv.URL, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err = client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()

	sc := span.SpanContext()
	want := "00-" + sc.TraceID().String() + "-" + sc.SpanID().String() + "-01"
	mu.Lock()
	defer mu.Unlock()
	if len(seen) != 2 || seen[0] != want || seen[1] != "" {
		t.Errorf("traceparent headers %q, want %q, then none", seen, want)
	}
}

func TestHandler(t *testing.T) {
	tel := newTelemetry(t)
	sb := agentboxtest.NewSandbox()
	defer sb.Close(context.Background())
	agent := agentbox.New(agentboxtest.NewProvider(agentboxtest.Reply("Hello.")), agentbox.Options{Sandbox: sb, Observer: tel.observer(false)})
	chat := uistream.New(agent, uistream.Options{})
	defer chat.Close(context.Background())
	srv := httptest.NewServer(otelbox.Handler(chat))
	defer srv.Close()

	// The caller's trace, sent by a client with Transport.
	caller := newTelemetry(t)
	ctx, span := caller.tp.Tracer("test").Start(t.Context(), "caller")
	body := `{"id":"chat-1","messages":[{"id":"u1","role":"user","parts":[{"type":"text","text":"Hi"}]}],"trigger":"submit-message"}`
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, srv.URL, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := (&http.Client{Transport: otelbox.Transport(nil)}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	span.End()
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(got), "Hello.") {
		t.Fatalf("status %d: %s", resp.StatusCode, got)
	}
	if err := chat.Close(context.Background()); err != nil {
		t.Fatal(err)
	}

	runSpan := one(t, tel.ended(t), "invoke_agent agentbox")
	sc := span.SpanContext()
	if runSpan.SpanContext().TraceID() != sc.TraceID() {
		t.Errorf("the run is in trace %s, want the caller's %s", runSpan.SpanContext().TraceID(), sc.TraceID())
	}
	if p := runSpan.Parent(); p.SpanID() != sc.SpanID() || !p.IsRemote() {
		t.Errorf("the run's parent is %v, want the caller's remote span %s", p.SpanID(), sc.SpanID())
	}
	if runSpan.Parent().TraceFlags() != trace.FlagsSampled {
		t.Errorf("the run's parent is not sampled: %v", runSpan.Parent().TraceFlags())
	}
}
