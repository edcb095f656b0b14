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
//
// A Handler keeps at most [Options.MaxSessions] sessions (100 by default).
// A chat whose turn has ended keeps its session, and its sandbox, for
// [Options.IdleTimeout] (15 minutes by default), or until a new chat needs
// its place: a new chat beyond MaxSessions closes the session idle the
// longest, so chats that have ended never keep a new one out. Only when
// every session has a turn running is a new chat refused with 503.
//
// A Handler holds a chat only while a client takes part. A client that
// disconnects, or that stays connected but stops reading so that a write to
// it waits [Options.WriteTimeout] (30 s by default), loses its turn: the run
// is cancelled and the chat takes the next message. The deadline is set
// before each write, so a long stream to a client that reads is not cut. A
// client that has not sent its whole request body within
// [Options.ReadTimeout] (30 s by default) gets 408 and its connection is
// closed; it never holds a chat. The deadlines replace, for the chat
// requests, the http.Server's ReadTimeout and WriteTimeout; leave the
// server's WriteTimeout 0, which would cut every stream at that length, and
// set its ReadHeaderTimeout, which no handler can.
package uistream
