package e2b

import (
	"fmt"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"
)

// Defaults used where a Config leaves a field empty.
const (
	// DefaultDomain is E2B's cloud.
	DefaultDomain = "e2b.app"
	// DefaultTemplate is E2B's base template.
	DefaultTemplate = "base"
	// DefaultLifetime is how long a sandbox lives unless extended, as in
	// E2B's own SDKs.
	DefaultLifetime = 5 * time.Minute
	// EnvdPort is the port of envd, the daemon inside every sandbox.
	EnvdPort = 49983
	// DebugSandboxID is the ID of the sandbox in debug mode.
	DebugSandboxID = "debug_sandbox_id"
)

// Config configures sandboxes on E2B. The zero value with an APIKey creates
// sandboxes from the base template on E2B's cloud.
type Config struct {
	// APIKey authenticates with E2B's control plane (X-API-Key). It is sent
	// to the origin of APIURL only, never where it redirects, and never
	// printed: not in errors, logs or String output.
	APIKey string
	// Template is the template sandboxes are created from; empty means
	// DefaultTemplate.
	Template string
	// Lifetime is how long a sandbox lives before E2B kills it, unless
	// extended (E2B's API calls it the sandbox's timeout); 0 means
	// DefaultLifetime. It is not a deadline of any request: those come
	// from the ctx of each call.
	Lifetime time.Duration
	// Metadata is attached to created sandboxes, to find them with List.
	Metadata map[string]string
	// Env holds environment variables of created sandboxes, seen by every
	// command.
	Env map[string]string
	// Domain is E2B's domain; empty means DefaultDomain.
	Domain string
	// APIURL is the control plane's address; empty means
	// https://api.{Domain}.
	APIURL string
	// SandboxURL, when set, is the address of envd for every sandbox, which
	// is then chosen with the E2b-Sandbox-Id header. Preview URLs are not
	// affected.
	SandboxURL string
	// Debug talks to an envd running on this machine
	// (http://localhost:49983) with no control plane at all, as the
	// official SDKs do when E2B_DEBUG is set.
	Debug bool
	// User runs commands and owns files; empty means the template's default
	// user.
	User string
	// AutoPause makes E2B pause the sandbox when its lifetime ends, instead
	// of killing it: its files (and, as E2B snapshots memory too, its
	// processes) wait there, costing no compute, until [Connect] or
	// [Sandbox.Resume] resumes it (using it through a [Sandbox] resumes it
	// too). Paused sandboxes are listed by [List]; Close removes them.
	AutoPause bool
	// NoInternet cuts the sandbox off from the internet (E2B's
	// allow_internet_access: false): its commands reach no address outside
	// it, such as package registries. Its ports stay reachable from outside,
	// for previews. The zero value lets it reach the internet, as E2B's own
	// SDKs do.
	NoInternet bool
	// Insecure creates sandboxes whose envd takes requests without an access
	// token (E2B's secure: false): anyone who knows a sandbox's ID can then
	// run commands in it. It exists for templates whose envd predates access
	// tokens; the zero value, as E2B's SDKs, asks for a token on every
	// request.
	Insecure bool
	// HTTPClient sends every request; nil means a client with dial, TLS and
	// response-header timeouts but no overall timeout, since commands stream.
	// It is not modified: copies of it add the credentials, and refuse
	// redirects to other origins.
	HTTPClient *http.Client
}

// FromEnv returns the Config that E2B's environment variables describe:
// E2B_API_KEY, E2B_DOMAIN, E2B_API_URL, E2B_SANDBOX_URL and E2B_DEBUG.
func FromEnv() Config {
	debug, _ := strconv.ParseBool(os.Getenv("E2B_DEBUG"))
	return Config{
		APIKey:     os.Getenv("E2B_API_KEY"),
		Domain:     os.Getenv("E2B_DOMAIN"),
		APIURL:     os.Getenv("E2B_API_URL"),
		SandboxURL: os.Getenv("E2B_SANDBOX_URL"),
		Debug:      debug,
	}
}

// String describes the configuration without its key.
func (c Config) String() string {
	key := "unset"
	if c.APIKey != "" {
		key = "set"
	}
	return fmt.Sprintf("e2b.Config{Template: %q, Domain: %q, APIURL: %q, Debug: %t, APIKey: %s}",
		c.template(), c.domain(), c.apiURL(), c.Debug, key)
}

// GoString is String, so that %#v does not print the key either.
func (c Config) GoString() string { return c.String() }

func (c Config) template() string {
	if c.Template == "" {
		return DefaultTemplate
	}
	return c.Template
}

func (c Config) domain() string {
	if c.Domain == "" {
		return DefaultDomain
	}
	return c.Domain
}

func (c Config) lifetime() time.Duration {
	if c.Lifetime <= 0 {
		return DefaultLifetime
	}
	return c.Lifetime
}

func (c Config) apiURL() string {
	if c.APIURL != "" {
		return strings.TrimRight(c.APIURL, "/")
	}
	return "https://api." + c.domain()
}

func (c Config) httpClient() *http.Client {
	if c.HTTPClient != nil {
		return c.HTTPClient
	}
	return defaultHTTPClient
}

// defaultHTTPClient is shared by all sandboxes, so that they share
// connections.
var defaultHTTPClient = &http.Client{Transport: &http.Transport{
	Proxy:                 http.ProxyFromEnvironment,
	DialContext:           (&net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
	TLSHandshakeTimeout:   10 * time.Second,
	ResponseHeaderTimeout: 2 * time.Minute, // a sandbox may take a while to create
	MaxIdleConnsPerHost:   32,
	IdleConnTimeout:       90 * time.Second,
	ForceAttemptHTTP2:     true,
	// Output and downloads stream in large pieces: read them in few calls.
	ReadBufferSize:  64 << 10,
	WriteBufferSize: 64 << 10,
}}

// seconds converts a lifetime to E2B's whole seconds, rounding up.
func seconds(d time.Duration) int32 {
	s := (d + time.Second - 1) / time.Second
	return int32(min(s, 1<<31-1))
}
