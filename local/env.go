package local

import (
	"cmp"
	"fmt"
	"maps"
	"os"
	"slices"

	"github.com/agentbox/agentbox/internal/cmdenv"
)

// defaultPath is the PATH of commands when the host has none.
const defaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// baseEnv returns the environment every command starts from: a few harmless
// variables of the host, and the sandbox's own HOME and TMPDIR. Nothing else
// of the host's environment is passed on, so its secrets stay out.
func baseEnv(home, tmp string) []string {
	env := []string{
		"PATH=" + cmp.Or(os.Getenv("PATH"), defaultPath),
		"HOME=" + home,
		"TMPDIR=" + tmp,
		"LANG=C.UTF-8",
		"SHELL=/bin/bash",
	}
	for _, k := range []string{"USER", "LOGNAME"} {
		if v, ok := os.LookupEnv(k); ok {
			env = append(env, k+"="+v)
		}
	}
	return env
}

// addEnv returns env with the variables of extra, in the order of their
// names, after it; later ones win.
func addEnv(env []string, extra map[string]string) ([]string, error) {
	if err := cmdenv.Check(extra); err != nil {
		return nil, fmt.Errorf("local: %w", err)
	}
	env = slices.Clip(env) // appending must not write to the array of env, which others may share
	for _, k := range slices.Sorted(maps.Keys(extra)) {
		env = append(env, k+"="+extra[k])
	}
	return env, nil
}
