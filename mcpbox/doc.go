// Package mcpbox joins agentbox to the Model Context Protocol, both ways.
//
// As a client, [Connect] reaches an MCP server — a command that speaks MCP
// on its standard input and output, or a streamable HTTP endpoint — and
// its [Client] is an [agentbox.Toolset]: the server's tools, named with the
// server's prefix, offered to the model at each step, their results and
// errors fed back to it.
//
// As a server, [NewServer] serves a sandbox's tools (the built-in file,
// command, process and preview tools) to any MCP client, one sandbox per
// MCP session, over stdio or streamable HTTP; cmd/agentbox-mcp is that
// server as a command.
//
// The package is built on github.com/modelcontextprotocol/go-sdk.
package mcpbox
