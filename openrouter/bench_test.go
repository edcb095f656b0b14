package openrouter_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/agentbox/agentbox"
	"github.com/agentbox/agentbox/agentboxtest"
	"github.com/agentbox/agentbox/internal/testkit"
	"github.com/agentbox/agentbox/openrouter"
	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
)

// benchTokens is the number of tokens a benchmark streams per operation.
const benchTokens = 100_000

// benchServer serves a chat completion of benchTokens one-token chunks.
func benchServer(b *testing.B) *httptest.Server {
	var body bytes.Buffer
	const chunk = `data: {"id":"gen-bench","object":"chat.completion.chunk","created":1760000000,"model":"bench/model","provider":"Bench","choices":[{"index":0,"delta":{"role":"assistant","content":"tok "},"finish_reason":null,"native_finish_reason":null,"logprobs":null}]}` + "\n\n"
	for range benchTokens {
		body.WriteString(chunk)
	}
	body.WriteString(`data: {"id":"gen-bench","object":"chat.completion.chunk","created":1760000000,"model":"bench/model","choices":[{"index":0,"delta":{"content":""},"finish_reason":"stop","native_finish_reason":"stop"}]}` + "\n\n")
	body.WriteString(`data: {"id":"gen-bench","object":"chat.completion.chunk","created":1760000000,"model":"bench/model","choices":[],"usage":{"prompt_tokens":10,"completion_tokens":100000,"total_tokens":100010,"cost":0.1}}` + "\n\n")
	body.WriteString("data: [DONE]\n\n")
	data := body.Bytes()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		w.Write(data)
	}))
	b.Cleanup(srv.Close)
	return srv
}

// measure runs stream b.N times, reports tokens per second and bytes
// allocated per token, and returns the tokens per second.
func measure(b *testing.B, stream func() int) float64 {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	tokens := 0
	for b.Loop() {
		if n := stream(); n != benchTokens {
			b.Fatalf("streamed %d tokens, want %d", n, benchTokens)
		}
		tokens += benchTokens
	}
	runtime.ReadMemStats(&after)
	rate := float64(tokens) / b.Elapsed().Seconds()
	b.ReportMetric(rate, "tokens/s")
	b.ReportMetric(float64(after.TotalAlloc-before.TotalAlloc)/float64(tokens), "B/token")
	return rate
}

// BenchmarkStream streams 100k tokens end to end: through a plain openai-go
// streaming loop, and through this provider and the Agent to a consumer of
// events, from the same server. The second reports its rate as a multiple
// of the first's (x-openai-go) when both run.
func BenchmarkStream(b *testing.B) {
	srv := benchServer(b)
	var openaiRate float64
	b.Run("openai-go", func(b *testing.B) {
		client := openai.NewClient(option.WithBaseURL(srv.URL), option.WithAPIKey(testKey))
		openaiRate = measure(b, func() int {
			stream := client.Chat.Completions.NewStreaming(context.Background(), openai.ChatCompletionNewParams{
				Model:    "bench/model",
				Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("Stream.")},
			})
			defer stream.Close()
			var text strings.Builder
			n := 0
			for stream.Next() {
				c := stream.Current()
				if len(c.Choices) > 0 && c.Choices[0].Delta.Content != "" {
					text.WriteString(c.Choices[0].Delta.Content)
					n++
				}
			}
			if err := stream.Err(); err != nil {
				b.Fatal(err)
			}
			return n
		})
	})
	b.Run("agentbox", func(b *testing.B) {
		p, err := openrouter.New(openrouter.Config{APIKey: testKey, BaseURL: srv.URL, Models: []string{"bench/model"}})
		if err != nil {
			b.Fatal(err)
		}
		agent := agentbox.New(p, agentbox.Options{Tools: []agentbox.Tool{}})
		rate := measure(b, func() int {
			n := 0
			for ev := range agent.Run(context.Background(), "Stream.") {
				switch ev := ev.(type) {
				case agentbox.Token:
					n++
				case agentbox.Done:
					if ev.Err != nil {
						b.Fatal(ev.Err)
					}
				}
			}
			return n
		})
		if openaiRate > 0 {
			b.ReportMetric(rate/openaiRate, "x-openai-go")
		}
	})
}

// concurrentRuns is the number of runs BenchmarkConcurrentRuns starts at
// once.
const concurrentRuns = 1000

// BenchmarkConcurrentRuns starts 1,000 runs at once, each opening an
// in-memory sandbox, writing a file there and answering, against a local
// fake OpenRouter (the model answers at once). Every run must complete, and
// once they have, the goroutines must be back to what they were before.
// Reported: runs/s, the peak heap in use per run (KB/run, above what was in
// use before), and goroutines-left (0).
func BenchmarkConcurrentRuns(b *testing.B) {
	const (
		call   = `{"id":"gen-c","object":"chat.completion.chunk","model":"bench/model","choices":[{"index":0,"delta":{"role":"assistant","tool_calls":[{"index":0,"id":"call_w","type":"function","function":{"name":"write_file","arguments":"{\"files\":[{\"path\":\"a.txt\",\"content\":\"hello\"}]}"}}]},"finish_reason":"tool_calls"}]}`
		answer = `{"id":"gen-a","object":"chat.completion.chunk","model":"bench/model","choices":[{"index":0,"delta":{"role":"assistant","content":"Written."},"finish_reason":"stop"}]}`
	)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var req struct {
			Messages []struct{ Role string } `json:"messages"`
		}
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil || len(req.Messages) == 0 {
			http.Error(w, "bad request", http.StatusBadRequest)
			return
		}
		chunk := call
		if req.Messages[len(req.Messages)-1].Role == "tool" {
			chunk = answer
		}
		w.Header().Set("Content-Type", "text/event-stream")
		io.WriteString(w, "data: "+chunk+"\n\ndata: [DONE]\n\n")
	}))
	defer srv.Close()
	transport := &http.Transport{MaxIdleConnsPerHost: concurrentRuns}
	p, err := openrouter.New(openrouter.Config{APIKey: testKey, BaseURL: srv.URL, Models: []string{"bench/model"}, HTTPClient: &http.Client{Transport: transport}})
	if err != nil {
		b.Fatal(err)
	}
	agent := agentbox.New(p, agentbox.Options{Open: func(context.Context) (agentbox.Sandbox, error) {
		return agentboxtest.NewSandbox(), nil
	}})

	var peakPerRun float64
	runs, maxLeft := 0, 0
	for b.Loop() {
		before := testkit.HeapNow()
		baseline := runtime.NumGoroutine()
		stop := testkit.PeakHeap()
		var wg sync.WaitGroup
		failures := make(chan error, concurrentRuns)
		for range concurrentRuns {
			wg.Go(func() {
				var done agentbox.Done
				for ev := range agent.Run(context.Background(), "Write a.txt") {
					if d, ok := ev.(agentbox.Done); ok {
						done = d
					}
				}
				if done.Err != nil || done.Reason != agentbox.StopCompleted || done.Steps != 2 {
					failures <- fmt.Errorf("a run ended %s after %d steps: %v", done.Reason, done.Steps, done.Err)
				}
			})
		}
		wg.Wait()
		high := stop()
		close(failures)
		for err := range failures {
			b.Fatal(err)
		}
		runs += concurrentRuns
		peakPerRun = max(peakPerRun, float64(high-min(before, high))/concurrentRuns/1024)
		b.StopTimer()
		transport.CloseIdleConnections()
		left := testkit.WaitGoroutines(baseline, 5*time.Second)
		if left > 0 {
			b.Fatalf("%d goroutines more than before the runs, 5 s after they ended", left)
		}
		maxLeft = max(maxLeft, left)
		b.StartTimer()
	}
	b.ReportMetric(float64(runs)/b.Elapsed().Seconds(), "runs/s")
	b.ReportMetric(peakPerRun, "KB/run")
	b.ReportMetric(float64(maxLeft), "goroutines-left")
}
