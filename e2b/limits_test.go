package e2b_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/agentbox/agentbox"
	"github.com/agentbox/agentbox/e2b"
	"github.com/agentbox/agentbox/e2b/e2btest"
)

// TestAHugeMessageFromEnvdIsRefused lists a folder whose listing is larger
// than the largest message the sandbox reads from envd (lowered to 8 KiB
// for the test; 32 MiB otherwise): List fails with an error that says so,
// instead of reading it all, and the sandbox goes on working.
func TestAHugeMessageFromEnvdIsRefused(t *testing.T) {
	defer e2b.SetMaxEnvdMessage(8 << 10)()
	srv := e2btest.NewServer(t, e2btest.Options{})
	sb := newSandbox(t, srv.Config())
	var files []agentbox.File
	for i := range 200 {
		files = append(files, agentbox.File{Path: fmt.Sprintf("many/file-with-a-long-name-%03d.txt", i), Data: []byte("x")})
	}
	if err := sb.WriteFiles(t.Context(), files); err != nil {
		t.Fatal(err)
	}
	infos, err := sb.List(t.Context(), "many")
	if err == nil || !strings.Contains(err.Error(), "larger than configured max") {
		t.Errorf("List of 200 files in 8 KiB: %d entries, %v; want an error saying the message is too large", len(infos), err)
	}
	if err := sb.WriteFiles(t.Context(), files[:1]); err != nil {
		t.Errorf("WriteFiles after the refused listing: %v", err)
	}
	if infos, err := sb.List(t.Context(), "."); err != nil || len(infos) != 1 {
		t.Errorf("a small List after the refused one: %v, %v", infos, err)
	}
}
