package openrouter_test

import (
	"testing"
	"time"

	"github.com/agentbox/agentbox"
	"github.com/agentbox/agentbox/agentboxtest"
	"github.com/agentbox/agentbox/openrouter"
	"github.com/agentbox/agentbox/openrouter/openroutertest"
)

// testKey is the key tests use: not a real one.
const testKey = "sk-or-v1-test-0000000000000000000000000000000000000000000000000000000000000000"

// newProvider returns a provider talking to srv, with fast retries.
func newProvider(t *testing.T, srv *openroutertest.Server, cfg openrouter.Config) *openrouter.Provider {
	t.Helper()
	cfg.APIKey = testKey
	cfg.BaseURL = srv.URL
	if cfg.Models == nil {
		cfg.Models = []string{"test/model"}
	}
	if cfg.RetryDelay == 0 {
		cfg.RetryDelay = time.Millisecond
	}
	p, err := openrouter.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestProviderContract(t *testing.T) {
	agentboxtest.RunProviderTests(t, func(t *testing.T, steps ...agentboxtest.Step) agentboxtest.ProviderFixture {
		srv := openroutertest.NewServer(t, openroutertest.FromSteps(steps...)...)
		return agentboxtest.ProviderFixture{
			Provider: newProvider(t, srv, openrouter.Config{}),
			Requests: func() []agentbox.Request { return srv.AgentboxRequests(t) },
		}
	})
}
