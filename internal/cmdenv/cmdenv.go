// Package cmdenv checks the environment variables a command is given, for
// the sandboxes that pass them on.
package cmdenv

import (
	"fmt"
	"strings"
)

// Check returns an error naming the first variable of env that cannot be
// set: an empty name, a name with "=" or NUL, a value with NUL.
func Check(env map[string]string) error {
	for k, v := range env {
		if k == "" || strings.ContainsAny(k, "=\x00") || strings.ContainsRune(v, 0) {
			return fmt.Errorf("invalid environment variable %q", k)
		}
	}
	return nil
}
