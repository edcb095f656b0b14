// Package envdapi is the client and server interface of envd's plain HTTP
// API (file upload and download, health), generated from
// spec/e2b/envd/envd.yaml.
package envdapi

//go:generate go tool -modfile=../../../tools/go.mod oapi-codegen -config config.yaml ../../../spec/e2b/envd/envd.yaml

// SecureToken is the type the spec names (x-go-type) for envd's access token
// in the body of its internal /init call.
type SecureToken = string
