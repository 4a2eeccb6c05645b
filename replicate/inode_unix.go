//go:build unix

package replicate

import (
	"os"
	"syscall"
)

// inode returns fi's inode number: a file replaced by a rename gets another.
func inode(fi os.FileInfo) uint64 {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return uint64(st.Ino)
	}
	return 0
}
