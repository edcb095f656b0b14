package uistream_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"

	"github.com/agentbox/agentbox"
	"github.com/agentbox/agentbox/agentboxtest"
	"github.com/agentbox/agentbox/uistream"
)

// A chat client POSTs the conversation and reads the run back as a UI
// message stream.
func Example() {
	model := agentboxtest.NewProvider(agentboxtest.Reply("Hello", " there."))
	agent := agentbox.New(model, agentbox.Options{})
	chats := uistream.New(agent, uistream.Options{MessageID: func() string { return "msg-1" }})
	defer chats.Close(context.Background())
	srv := httptest.NewServer(chats)
	defer srv.Close()

	resp, err := http.Post(srv.URL, "application/json", strings.NewReader(
		`{"id":"chat-1","messages":[{"id":"m1","role":"user","parts":[{"type":"text","text":"Hi!"}]}],"trigger":"submit-message"}`))
	if err != nil {
		panic(err)
	}
	defer resp.Body.Close()
	fmt.Println(resp.Header.Get("Content-Type"), resp.Header.Get("X-Vercel-Ai-Ui-Message-Stream"))
	io.Copy(os.Stdout, resp.Body)
	// Output:
	// text/event-stream v1
	// data: {"type":"start","messageId":"msg-1"}
	//
	// data: {"type":"start-step"}
	//
	// data: {"type":"text-start","id":"text-1"}
	//
	// data: {"type":"text-delta","id":"text-1","delta":"Hello"}
	//
	// data: {"type":"text-delta","id":"text-1","delta":" there."}
	//
	// data: {"type":"text-end","id":"text-1"}
	//
	// data: {"type":"finish-step"}
	//
	// data: {"type":"finish","finishReason":"stop","messageMetadata":{"reason":"completed","steps":1,"usage":{"prompt_tokens":0,"completion_tokens":0}}}
	//
	// data: [DONE]
}

// Serving bolt.diy's chat page, as the README shows: the handler at the path
// its useChat posts to, and below it for resumes. (Compiled, not run: it
// serves until the program ends.)
func Example_boltDiy() {
	agent := agentbox.New(agentboxtest.NewProvider(), agentbox.Options{})

	chats := uistream.New(agent, uistream.Options{}) // agent: your provider and sandbox
	mux := http.NewServeMux()
	mux.Handle("/api/chat", chats)
	mux.Handle("/api/chat/", chats)
	http.ListenAndServe(":8080", mux)
}
