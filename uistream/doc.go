// Package uistream serves agent runs to browser chat clients in the AI SDK
// "UI message stream" protocol v1, the protocol that useChat front ends of
// AI SDK 5 and later consume: POST a chat request, get the run back as
// server-sent events. Clients of AI SDK 4 (useChat of @ai-sdk/react 1, as
// bolt.diy uses it) get the run in the protocol they read, the "data
// stream" protocol v1.
//
//	agent := agentbox.New(provider, agentbox.Options{Open: e2b.Opener(cfg)})
//	chats := uistream.New(agent, uistream.Options{})
//	defer chats.Close(context.Background())
//	http.Handle("/api/chat", chats)
//
// A [Handler] keeps one [agentbox.Session] per chat id, so that the app the
// agent builds in one message is still there in the next. An [Encoder]
// writes the events of any run as a UI message stream, and a
// [DataStreamEncoder] as a data stream, for those who serve runs their own
// way.
//
// A Handler keeps at most [Options.MaxSessions] sessions (100 by default).
// A chat whose turn has ended keeps its session, and its sandbox, for
// [Options.IdleTimeout] (15 minutes by default), or until a new chat needs
// its place: a new chat beyond MaxSessions closes the session idle the
// longest, so chats that have ended never keep a new one out. Only when
// every session has a turn running is a new chat refused with 503.
//
//	mux.Handle("/api/chat", chats)
//	mux.Handle("/api/chat/", chats) // GET /api/chat/{id}/stream
//
// Tool calls that need a person's approval (agentbox's
// Options.NeedsApproval) are asked of the user in the stream; the turn
// ends with them waiting, and the client's next request, which carries the
// answers in the assistant message, continues it
// ([agentbox.Session.Continue]). AI SDK 5+ clients answer with useChat's
// addToolApprovalResponse, AI SDK 4 clients with addToolResult and a result
// {"approved": true} or {"approved": false, "reason": "…"}; see [Handler].
//
// A page reloaded mid-turn gets the turn back from its start: AI SDK 5's
// useChat with resume: true asks GET {api}/{id}/stream, AI SDK 4's
// experimental_resume GET {api}?chatId={id}. The stream of a running turn
// is kept for that, up to [Options.MaxReplayBytes] (8 MiB by default).
//
// A Handler holds a chat only while a client takes part. A client that
// disconnects, or that stays connected but stops reading so that a write to
// it waits [Options.WriteTimeout] (30 s by default), leaves its turn to run
// on for [Options.ResumeWindow] (15 s by default), for a client to resume
// it; then the run is cancelled. A new message for the chat, or a new chat
// that needs its place, cancels such a turn at once, so the chat takes the
// next message. The deadline is set
// before each write, so a long stream to a client that reads is not cut. A
// client that has not sent its whole request body within
// [Options.ReadTimeout] (30 s by default) gets 408 and its connection is
// closed; it never holds a chat. The deadlines replace, for the chat
// requests, the http.Server's ReadTimeout and WriteTimeout; leave the
// server's WriteTimeout 0, which would cut every stream at that length, and
// set its ReadHeaderTimeout, which no handler can.
package uistream
