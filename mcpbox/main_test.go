package mcpbox_test

import (
	"os"
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	if os.Getenv("MCPBOX_TEST_SERVER") == "1" {
		serveTestServer() // the test binary is an MCP server for a test
	}
	goleak.VerifyTestMain(m)
}
