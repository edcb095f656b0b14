package mcpbox_test

import (
	"testing"
	"github.com/agentbox/agentbox/mcpbox"
)

func TestZZProbe(t *testing.T) {
	c, err := mcpbox.Connect(t.Context(), mcpbox.Config{Name: "everything", Command: []string{"node", "/root/.cache/agentbox-mcp-js/node_modules/@modelcontextprotocol/server-everything/dist/index.js", "stdio"}})
	if err != nil { t.Fatal(err) }
	defer c.Close()
	tools, err := c.Tools(t.Context())
	t.Logf("err: %v", err)
	for _, tl := range tools { s := tl.Spec(); t.Logf("%s: %s %s", s.Name, s.Description, s.Parameters) }
}
