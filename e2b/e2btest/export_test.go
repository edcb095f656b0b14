package e2btest

import "time"

// SetEndedRetention sets how long ended processes are kept for re-attaches,
// until the test ends.
func SetEndedRetention(t interface{ Cleanup(func()) }, d time.Duration) {
	old := endedRetention.Swap(int64(d))
	t.Cleanup(func() { endedRetention.Store(old) })
}
