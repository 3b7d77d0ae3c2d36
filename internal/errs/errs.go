// Package errs holds the sentinel errors that more than one bpfkit package returns, so
// that errors.Is(err, loader.ErrClosed) and errors.Is(err, maps.ErrClosed) agree.
package errs

import "errors"

// ErrClosed is returned by every handle whose owner has been closed.
var ErrClosed = errors.New("use of closed bpfkit object")
