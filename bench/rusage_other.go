//go:build !unix

package bench

import "os"

// maxRSSBytes is 0 where the platform reports no peak RSS for a child.
func maxRSSBytes(ps *os.ProcessState) int64 { return 0 }
