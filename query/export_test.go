package query

// SetRunHook makes f be called after every run of a live query, with its
// result and whether it was delivered; restore undoes it. Tests only, set
// before any subscription starts.
func SetRunHook(f func(s *Subscription, r *Result, delivered bool)) (restore func()) {
	old := testHookRun
	testHookRun = f
	return func() { testHookRun = old }
}
