package e2b_test

import (
	"testing"

	"github.com/agentbox/agentbox"
	"github.com/agentbox/agentbox/e2b/e2btest"
)

// TestOddFileNamesRoundTrip writes files whose names have a newline, a
// carriage return, a tab, quotes, a backslash, a percent sign and non-ASCII
// letters, in one upload, and reads each back: the upload names each part
// as envd reads it (RFC 2231 where a quoted name cannot hold it).
func TestOddFileNamesRoundTrip(t *testing.T) {
	srv := e2btest.NewServer(t, e2btest.Options{})
	sb := newSandbox(t, srv.Config())
	names := []string{"new\nline.txt", "carriage\rreturn.txt", "tab\there.txt", `quote"d.txt`, `back\slash.txt`, "per%20cent.txt", "héllo wörld.txt", "semi;colon=x.txt"}
	var files []agentbox.File
	for _, n := range names {
		files = append(files, agentbox.File{Path: "odd/" + n, Data: []byte(n)})
	}
	if err := sb.WriteFiles(t.Context(), files); err != nil {
		t.Fatalf("WriteFiles: %v", err)
	}
	for _, n := range names {
		got, err := agentbox.ReadFile(t.Context(), sb, "odd/"+n)
		if err != nil || string(got) != n {
			t.Errorf("ReadFile(%q) = %q, %v", n, got, err)
		}
	}
	infos, err := sb.List(t.Context(), "odd")
	if err != nil || len(infos) != len(names) {
		t.Errorf("List: %d entries, %v; want %d", len(infos), err, len(names))
	}
}
