// Package envd holds the Connect RPC clients and handlers of envd, the daemon
// in each E2B sandbox, generated from the .proto files in spec/e2b/envd: the
// process and filesystem services.
package envd

//go:generate go tool -modfile=../../../tools/go.mod buf generate
