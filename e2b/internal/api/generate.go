// Package api is the E2B control plane's REST client and server interface,
// generated from spec/e2b/openapi.yml.
package api

//go:generate go tool -modfile=../../../tools/go.mod oapi-codegen -config config.yaml ../../../spec/e2b/openapi.yml
