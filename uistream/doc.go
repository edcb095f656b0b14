// Package uistream serves agent runs to browser chat clients in the AI SDK
// "UI message stream" protocol v1, the protocol that useChat front ends
// consume: POST a chat request, get the run back as server-sent events.
//
//	agent := agentbox.New(provider, agentbox.Options{Open: e2b.Opener(cfg)})
//	chats := uistream.New(agent, uistream.Options{})
//	defer chats.Close(context.Background())
//	http.Handle("/api/chat", chats)
//
// A [Handler] keeps one [agentbox.Session] per chat id, so that the app the
// agent builds in one message is still there in the next. An [Encoder]
// writes the events of any run in the protocol, for those who serve runs
// their own way.
package uistream
