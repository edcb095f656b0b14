package main

import (
	"io"
	"strings"
	"testing"
)

func TestFlags(t *testing.T) {
	t.Setenv("E2B_DEBUG", "")
	for _, tc := range []struct {
		args    []string
		key     string // E2B_API_KEY
		sandbox string // the sandbox chosen, when the flags are good
		err     string // what the error says, when they are not
	}{
		{args: nil, sandbox: "local"},
		{args: nil, key: "k", sandbox: "e2b"},
		{args: []string{"-sandbox", "local"}, key: "k", sandbox: "local"},
		{args: []string{"-sandbox", "local", "-dir", "/tmp/x", "-isolation", "none"}, sandbox: "local"},
		{args: []string{"-sandbox", "docker"}, err: `-sandbox "docker"`},
		{args: []string{"-isolation", "jail"}, err: `-isolation "jail"`},
		{args: []string{"-sandbox", "e2b"}, err: "E2B_API_KEY"},
		{args: []string{"-dir", "x"}, key: "k", err: "-dir is for local sandboxes"},
		{args: []string{"extra"}, err: "unexpected arguments"},
		{args: []string{"-nope"}, err: "not defined"},
	} {
		t.Setenv("E2B_API_KEY", tc.key)
		cfg, err := parseFlags(tc.args, io.Discard)
		if err == nil {
			_, err = opener(cfg)
		}
		switch {
		case tc.err == "" && err != nil:
			t.Errorf("%q: %v", tc.args, err)
		case tc.err == "" && cfg.sandbox != tc.sandbox:
			t.Errorf("%q with E2B_API_KEY=%q: sandbox %q, want %q", tc.args, tc.key, cfg.sandbox, tc.sandbox)
		case tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)):
			t.Errorf("%q: error %v, want one containing %q", tc.args, err, tc.err)
		}
	}
}
