package view

import (
	"fmt"
	"runtime/debug"
)

// PanicError is the error a view's code panicked with: a Writer's Apply, a
// Decoder's Decode or a View's Open. The panic is recovered where it
// happened and handled like the error that code could have returned (an
// Apply error goes by the file's ErrorPolicy, inside an *ApplyError naming
// the view and the entry), so the program lives on. Match it with
// errors.As.
type PanicError struct {
	Value any    // what the code panicked with
	Stack []byte // the goroutine's stack where it panicked
}

// Error says what the code panicked with (the stack goes to the file's
// logger, and is in Stack).
func (e *PanicError) Error() string { return fmt.Sprintf("panic: %v", e.Value) }

// Unwrap returns the value panicked with if it is an error (a runtime
// error, say), so errors.As finds it.
func (e *PanicError) Unwrap() error {
	err, _ := e.Value.(error)
	return err
}

// guard runs fn, a call into a view's code, and turns a panic into a
// *PanicError (see panicked); what names the call.
func (f *File) guard(what func() string, fn func() error) (err error) {
	defer func() {
		if v := recover(); v != nil {
			err = f.panicked(v, what())
		}
	}()
	return fn()
}

// panicked makes a recovered panic value v a *PanicError and logs it with
// its stack, as what (the view, the call, the entry). Call it in the
// deferred function that recovered v.
func (f *File) panicked(v any, what string) *PanicError {
	pe := &PanicError{Value: v, Stack: debug.Stack()}
	f.opts.Logf("%s: panic: %v\n%s", what, v, pe.Stack)
	return pe
}
