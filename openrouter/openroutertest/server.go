// Package openroutertest is a fake OpenRouter for tests: an HTTP server on
// loopback that answers chat completions with scripted or recorded streams,
// error statuses, delays, mid-stream errors and truncated bodies, in
// OpenRouter's wire format, and records the requests it gets. With Kind
// set, it plays a local model server instead (Ollama, vLLM, llama.cpp's
// server), with its quirks.
//
//	srv := openroutertest.NewServer(t,
//		openroutertest.Status(429, `{"error":{"code":429,"message":"Rate limit exceeded"}}`, "Retry-After", "1"),
//		openroutertest.FromStep(agentboxtest.Reply("Hello")),
//	)
//	p, _ := openrouter.New(openrouter.Config{APIKey: "sk-or-test", BaseURL: srv.URL, Models: []string{"some/model"}})
package openroutertest

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/agentbox/agentbox/agentboxtest"
)

// A Response is how the server answers one chat completion request.
type Response struct {
	// Status is the HTTP status; 0 means 200.
	Status int
	// Header holds headers to send, such as Retry-After.
	Header http.Header
	// Body is sent as it is: a JSON error for an error status, or a
	// recorded SSE stream.
	Body string
	// Events are the data of SSE events, sent one by one after Body, each
	// as "data: EVENT\n\n".
	Events []string
	// Delay is the wait before the headers; EventDelay the wait before each
	// event after the first.
	Delay, EventDelay time.Duration
	// Hang, after the body and events, keeps the response open until the
	// client goes away.
	Hang bool
	// Drop, after the body and events, breaks the connection.
	Drop bool

	step *agentboxtest.Step // what FromStep made it from, for a local Kind
}

// A Request is a request the server received.
type Request struct {
	Method, Path string
	Header       http.Header
	Body         []byte
}

// JSON decodes the request's body into v.
func (r Request) JSON(v any) error { return json.Unmarshal(r.Body, v) }

// A Server is a fake OpenRouter. Its zero value is not usable: use
// NewServer.
type Server struct {
	// URL is the base URL to give the provider, e.g. http://127.0.0.1:PORT/api/v1.
	URL string
	// APIKey, when set, is the only key accepted: requests with another get
	// 401, as OpenRouter answers them.
	APIKey string
	// Models, when set, are the models that /models lists and chat
	// completions accept; others get OpenRouter's 400.
	Models []string
	// Kind is the kind of server it plays: OpenRouter unless set.
	Kind Kind

	srv       *httptest.Server
	mu        sync.Mutex
	responses []Response
	requests  []Request
}

// NewServer starts a server answering chat completions with responses, in
// order, and closes it when t ends. When they run out, it answers 500.
func NewServer(t testing.TB, responses ...Response) *Server {
	s := &Server{responses: responses}
	s.srv = httptest.NewServer(http.HandlerFunc(s.serve))
	s.URL = s.srv.URL + "/api/v1"
	t.Cleanup(s.Close)
	return s
}

// Close stops the server, ending the responses in progress.
func (s *Server) Close() {
	s.srv.CloseClientConnections()
	s.srv.Close()
}

// Add queues more responses.
func (s *Server) Add(responses ...Response) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.responses = append(s.responses, responses...)
}

// Requests returns the requests received so far.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.requests)
}

// ChatRequests returns the bodies of the chat completion requests received,
// decoded.
func (s *Server) ChatRequests() []map[string]any {
	var out []map[string]any
	for _, r := range s.Requests() {
		if strings.HasSuffix(r.Path, "/chat/completions") {
			var m map[string]any
			r.JSON(&m)
			out = append(out, m)
		}
	}
	return out
}

const (
	errUnauthorized = `{"error":{"message":"User not found.","code":401}}`
	errNoMore       = `{"error":{"message":"openroutertest: no more scripted responses","code":500}}`
)

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	s.mu.Lock()
	s.requests = append(s.requests, Request{Method: r.Method, Path: r.URL.Path, Header: r.Header.Clone(), Body: body})
	key, models, kind := s.APIKey, s.Models, s.Kind
	s.mu.Unlock()
	if kind != OpenRouter && s.serveLocal(w, r, kind, key, models, body) {
		return
	}
	if kind == OpenRouter && key != "" && r.Header.Get("Authorization") != "Bearer "+key {
		writeJSON(w, http.StatusUnauthorized, errUnauthorized)
		return
	}
	switch {
	case r.Method == http.MethodGet && strings.HasSuffix(r.URL.Path, "/key"):
		writeJSON(w, http.StatusOK, `{"data":{"label":"openroutertest","limit":null,"usage":0,"is_free_tier":false}}`)
	case r.Method == http.MethodGet && strings.HasSuffix(r.URL.Path, "/models"):
		var list []map[string]string
		for _, m := range models {
			list = append(list, map[string]string{"id": m, "name": m})
		}
		data, _ := json.Marshal(map[string]any{"data": list})
		writeJSON(w, http.StatusOK, string(data))
	case r.Method == http.MethodPost && strings.HasSuffix(r.URL.Path, "/chat/completions"):
		var req struct {
			Model string `json:"model"`
		}
		json.Unmarshal(body, &req)
		if kind == OpenRouter && len(models) > 0 && !slices.Contains(models, req.Model) {
			writeJSON(w, http.StatusBadRequest, fmt.Sprintf(`{"error":{"message":"%s is not a valid model ID","error_type":"invalid_request","http_status":400,"availability":{"code":"model_not_found","retryable":false}}}`, req.Model))
			return
		}
		s.mu.Lock()
		if len(s.responses) == 0 {
			s.mu.Unlock()
			writeJSON(w, http.StatusInternalServerError, errNoMore)
			return
		}
		resp := s.responses[0]
		s.responses = s.responses[1:]
		s.mu.Unlock()
		if kind != OpenRouter && resp.step != nil {
			resp.Events = localEvents(kind, *resp.step, body)
		}
		play(w, r, resp)
	default:
		writeJSON(w, http.StatusNotFound, `{"error":{"message":"Not Found","code":404}}`)
	}
}

func writeJSON(w http.ResponseWriter, status int, body string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	io.WriteString(w, body)
}

// play sends resp.
func play(w http.ResponseWriter, r *http.Request, resp Response) {
	ctx := r.Context()
	if !wait(ctx.Done(), resp.Delay) {
		return
	}
	for k, vs := range resp.Header {
		for _, v := range vs {
			w.Header().Add(k, v)
		}
	}
	status := resp.Status
	if status == 0 {
		status = http.StatusOK
	}
	if w.Header().Get("Content-Type") == "" {
		if status >= 400 {
			w.Header().Set("Content-Type", "application/json")
		} else {
			w.Header().Set("Content-Type", "text/event-stream")
			w.Header().Set("Cache-Control", "no-cache")
		}
	}
	w.WriteHeader(status)
	flusher, _ := w.(http.Flusher)
	flush := func() {
		if flusher != nil {
			flusher.Flush()
		}
	}
	io.WriteString(w, resp.Body)
	flush()
	for i, e := range resp.Events {
		if i > 0 && !wait(ctx.Done(), resp.EventDelay) {
			return
		}
		if _, err := io.WriteString(w, "data: "+e+"\n\n"); err != nil {
			return
		}
		flush()
	}
	switch {
	case resp.Drop:
		if hj, ok := w.(http.Hijacker); ok {
			if conn, _, err := hj.Hijack(); err == nil {
				conn.Close()
			}
		}
	case resp.Hang:
		<-ctx.Done()
	}
}

// wait waits for d, or until done is closed, and reports whether d passed.
func wait(done <-chan struct{}, d time.Duration) bool {
	if d <= 0 {
		return true
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-done:
		return false
	}
}

// Status returns a response with an error status and a JSON body; headers
// are given as name, value pairs.
func Status(status int, body string, headers ...string) Response {
	h := http.Header{}
	for i := 0; i+1 < len(headers); i += 2 {
		h.Add(headers[i], headers[i+1])
	}
	return Response{Status: status, Header: h, Body: body}
}

// Recorded returns a response sending a recorded SSE body as it is.
func Recorded(body string) Response { return Response{Body: body} }
