package mcpbox

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/agentbox/agentbox"
	"github.com/google/jsonschema-go/jsonschema"
)

// previewWait is how long preview_url waits for a port to answer.
const previewWait = 30 * time.Second

// PreviewURLArgs are the arguments of the tool [PreviewTool] returns:
//
//	{"port": 5173}
//
// port (1 to 65535) is required.
type PreviewURLArgs struct {
	// Port is the TCP port inside the sandbox.
	Port int `json:"port" jsonschema:"the TCP port a server listens on inside the sandbox"`
}

// PreviewTool returns the tool preview_url, which returns the URL where a
// port of the sandbox answers, from outside it, as [agentbox.Previewer]
// gives it: "Port 5173 answers at http://127.0.0.1:5173". It waits up to 30
// seconds for something to listen on the port, and sends an
// [agentbox.Preview] event. A sandbox that is not a Previewer gives an
// error matching [agentbox.ErrNotSupported] that says it has no previews.
func PreviewTool() agentbox.Tool {
	return agentbox.NewTool("preview_url",
		"Return the URL where a TCP port of the sandbox can be opened from outside it, such as the port of a dev server started with start_process. Waits up to 30 seconds for something to listen on the port.",
		previewURL,
		agentbox.EditSchema(func(s *jsonschema.Schema) {
			s.Properties["port"].Minimum = jsonschema.Ptr(1.0)
			s.Properties["port"].Maximum = jsonschema.Ptr(65535.0)
		}))
}

func previewURL(ctx context.Context, env *agentbox.Env, in PreviewURLArgs) (string, error) {
	sb, err := env.Sandbox(ctx)
	if err != nil {
		return "", err
	}
	pv, ok := sb.(agentbox.Previewer)
	if !ok {
		return "", fmt.Errorf("this sandbox has no preview URLs, so port %d cannot be opened from outside it: %w", in.Port, agentbox.ErrNotSupported)
	}
	wctx, cancel := context.WithTimeout(ctx, previewWait)
	defer cancel()
	url, err := pv.PreviewURL(wctx, in.Port)
	switch {
	case err != nil && ctx.Err() == nil && errors.Is(err, context.DeadlineExceeded):
		return "", fmt.Errorf("nothing answered on port %d within %s; start the server first (start_process) and make it listen on 0.0.0.0: %w", in.Port, previewWait, err)
	case err != nil:
		return "", fmt.Errorf("port %d: %w", in.Port, err)
	}
	env.Preview(in.Port, url)
	return fmt.Sprintf("Port %d answers at %s", in.Port, url), nil
}
