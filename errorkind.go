package agentbox

import (
	"io/fs"
)

// KindOf returns the kind of err: that of the first error in its chain (as
// errors.As walks it) that has a kind other than KindUnknown. An error has
// a kind when it has a method ErrorKind() ErrorKind, as [*ProviderError]
// and *e2b.Error do, or when it is one of these sentinels:
//
//   - [ErrSandboxGone]: [KindSandboxGone]
//   - [ErrTimeout]: [KindTimeout]
//   - [io/fs.ErrNotExist]: [KindNotFound]
//
// KindOf returns "" for a nil err and KindUnknown for one it cannot
// classify. Other sentinels, such as [ErrClosed] and [ErrNotSupported], and
// context.Canceled and context.DeadlineExceeded are not boundary errors and
// have no kind: match them with errors.Is.
func KindOf(err error) ErrorKind {
	if err == nil {
		return ""
	}
	if k := kindOf(err, 0); k != "" {
		return k
	}
	return KindUnknown
}

// kindOf returns the kind of the first error in err's chain that has one, or
// "" if none does; depth bounds the walk of a cyclic chain.
func kindOf(err error, depth int) ErrorKind {
	for ; err != nil && depth < 100; depth++ {
		if k := ownKind(err); k != "" && k != KindUnknown {
			return k
		}
		switch u := err.(type) {
		case interface{ Unwrap() error }:
			err = u.Unwrap()
		case interface{ Unwrap() []error }:
			for _, e := range u.Unwrap() {
				if k := kindOf(e, depth+1); k != "" {
					return k
				}
			}
			return ""
		default:
			return ""
		}
	}
	return ""
}

// ownKind returns the kind of err itself, not of what it wraps.
func ownKind(err error) ErrorKind {
	if k, ok := err.(interface{ ErrorKind() ErrorKind }); ok {
		return k.ErrorKind()
	}
	switch err {
	case ErrSandboxGone:
		return KindSandboxGone
	case ErrTimeout:
		return KindTimeout
	case fs.ErrNotExist:
		return KindNotFound
	}
	return ""
}
