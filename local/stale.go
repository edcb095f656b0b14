package local

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
)

// A sandbox's private folder, made by New in the system's temporary folder
// ([os.TempDir]) as agentbox-*, holds a lock file, owner.lock, that the
// program using the sandbox holds locked (flock, exclusive) from the moment
// the file appears until Close has removed the folder. The kernel releases
// the lock when the program ends, however it ends, SIGKILL included, and
// only then: a folder whose lock can be taken has no owner left. The lock
// belongs to the open file, not to a process ID, so a reused ID cannot make
// a dead owner look alive or a live one dead.

// lockName is the name of the lock file in a sandbox's private folder.
const lockName = "owner.lock"

// stalePrefix is how the private folders New makes are named.
const stalePrefix = "agentbox-"

var cleanOnce sync.Once

// cleanAtNew removes stale folders the first time New runs in this
// program, bounded by ctx. Failures are ignored: cleaning is a courtesy,
// and [Clean] reports them to who asks.
func cleanAtNew(ctx context.Context) {
	cleanOnce.Do(func() { Clean(ctx) })
}

// Clean removes the private folders (and the workspaces they hold, when
// New made them) that sandboxes of programs that ended without closing
// them left in the system's temporary folder: a program killed, say. It
// returns the folders it removed.
//
// Only folders named agentbox-* that belong to this user, hold a lock file
// made by this package, and whose lock no program holds are removed: the
// folders of live programs, of other users, and those made by versions of
// this package before it locked them are left alone. A workspace given to
// New (Config.Dir) lives outside those folders and is never removed. New
// calls Clean once per program, the first time it runs; calling it again
// is safe, also while other programs make and close sandboxes. It stops,
// returning ctx's error, when ctx is done. Clean needs flock: where there is
// none (not Unix), it removes nothing and returns an error matching
// [errors.ErrUnsupported].
func Clean(ctx context.Context) ([]string, error) {
	if !canLock {
		return nil, fmt.Errorf("local: clean: %w", errors.ErrUnsupported)
	}
	tmp := os.TempDir()
	entries, err := os.ReadDir(tmp)
	if err != nil {
		return nil, fmt.Errorf("local: clean: %w", err)
	}
	var removed []string
	var errs []error
	for _, e := range entries {
		if err := ctx.Err(); err != nil {
			return removed, fmt.Errorf("local: clean: %w", err)
		}
		if !strings.HasPrefix(e.Name(), stalePrefix) || !e.IsDir() {
			continue // a symbolic link is not a folder New made
		}
		dir := filepath.Join(tmp, e.Name())
		gone, err := removeIfStale(dir)
		if err != nil {
			errs = append(errs, err)
		}
		if gone {
			removed = append(removed, dir)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return removed, fmt.Errorf("local: clean: %w", err)
	}
	return removed, nil
}

// removeIfStale removes dir if its lock file can be locked: its owner has
// ended. It reports whether it removed it.
func removeIfStale(dir string) (bool, error) {
	if !ownedFolder(dir) {
		return false, nil
	}
	path := filepath.Join(dir, lockName)
	f, err := openLock(path)
	if err != nil {
		return false, nil // no lock file: not ours to judge
	}
	defer f.Close()
	locked, err := tryLock(f)
	if err != nil || !locked {
		return false, err // alive, or cannot tell
	}
	// The file locked must still be the folder's lock: another cleaner may
	// have removed the folder meanwhile, and a new sandbox made one of the
	// same name.
	if !sameFile(f, path) {
		return false, nil
	}
	// Unlinked first, so that no other cleaner locks it anew; the folder
	// goes while the lock is held.
	if err := os.Remove(path); err != nil {
		return false, fmt.Errorf("%s: %w", dir, err)
	}
	if err := removeAll(dir); err != nil {
		return false, fmt.Errorf("%s: %w", dir, err)
	}
	return true, nil
}

// sameFile reports whether f is the file at path.
func sameFile(f *os.File, path string) bool {
	a, err := f.Stat()
	if err != nil {
		return false
	}
	b, err := os.Lstat(path)
	return err == nil && os.SameFile(a, b)
}

// lockFolder makes the lock file of the private folder dir and locks it;
// the file appears under its name already locked, so that no cleaner ever
// sees it unlocked while its owner lives.
func lockFolder(dir string) (*os.File, error) {
	if !canLock {
		return nil, nil
	}
	f, err := os.CreateTemp(dir, ".lock-*")
	if err != nil {
		return nil, fmt.Errorf("local: making the sandbox's lock: %w", err)
	}
	locked, err := tryLock(f)
	if err == nil && !locked {
		err = errors.New("locked by another program")
	}
	if err == nil {
		err = os.Rename(f.Name(), filepath.Join(dir, lockName))
	}
	if err != nil {
		f.Close()
		os.Remove(f.Name())
		return nil, fmt.Errorf("local: locking the sandbox's folder: %w", err)
	}
	return f, nil
}
