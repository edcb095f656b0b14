//go:build !unix

package local

import (
	"errors"
	"os"
)

// canLock says whether this system has flock.
const canLock = false

func openLock(string) (*os.File, error) { return nil, errors.ErrUnsupported }
func tryLock(*os.File) (bool, error)    { return false, errors.ErrUnsupported }
func ownedFolder(string) bool           { return false }
