// Package firstuser holds the reproductions of the defects sluice's first
// outside user found, as tests that fail until each defect is fixed. They
// use only what a user sees: the exported API of package sluice and its
// subpackages, and the sluice command built from cmd/sluice.
//
// The tests are behind the build tag firstuser, so that make test stays
// green while the defects are open:
//
//	go test -tags firstuser -count=1 -v ./internal/firstuser
//
// Each test's doc comment says what was done, what was expected and what
// happened. A test that passes means its defect is fixed.
package firstuser
