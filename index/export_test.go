package index

// SetWaitingHook sets a function WaitFor calls when it is about to block,
// and returns a function that removes it.
func SetWaitingHook(f func()) (restore func()) {
	testHookWaiting = f
	return func() { testHookWaiting = nil }
}

// SetAppendedHook sets a function Transact calls once it has appended its
// records, before the views commit.
func SetAppendedHook(f func()) { testHookAppended = f }
