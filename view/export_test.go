package view

// QuickChecks returns how many times OpenFile has run PRAGMA quick_check.
func QuickChecks() int64 { return quickChecks.Load() }
