package egress

import (
	"errors"
	"fmt"
)

// Values of DeniedError.By: which layer refused the request.
const (
	ByProxy = "proxy"         // the forward proxy answered 407
	ByACL   = "acl"           // the egress ACL denied the host
	ByGuard = "address guard" // the dialed IP is in a refused range
)

// ErrDenied matches every *DeniedError with errors.Is, for callers that only
// need to know that policy, not the network, stopped a request.
var ErrDenied = errors.New("egress: denied")

// ErrResponseTooLarge is wrapped by the error returned when a response body
// exceeds Config.MaxResponseBytes, either up front (from its Content-Length)
// or while the body is read.
var ErrResponseTooLarge = errors.New("egress: response body too large")

// ErrClosed is returned by requests made after Client.Close.
var ErrClosed = errors.New("egress: client closed")

// DeniedError reports that egress policy refused a request. Find it with
// errors.As; its message is meant to be shown to function authors as is.
type DeniedError struct {
	// By is the layer that refused: ByProxy, ByACL or ByGuard.
	By string
	// Reason is the refusing layer's explanation: the proxy's
	// X-Smokescreen-Error, the ACL decision's reason, or the guard's name for
	// the address range ("loopback", "private", ...).
	Reason string
	// Target is the host (ByACL) or IP address (ByGuard) that was refused.
	// The proxy does not say which host it refused, so it is empty for ByProxy.
	Target string
	// Service is the service (bucket) the request was made for, for ByACL.
	Service string
}

// Error formats the denial; see the package documentation for the forms.
func (e *DeniedError) Error() string {
	switch e.By {
	case ByProxy:
		return "denied by egress proxy: " + e.Reason
	case ByACL:
		return fmt.Sprintf("egress: host %s denied by egress ACL for service %q: %s", e.Target, e.Service, e.Reason)
	case ByGuard:
		return fmt.Sprintf("egress: address %s is not allowed (%s)", e.Target, e.Reason)
	}
	return fmt.Sprintf("egress: denied by %s: %s", e.By, e.Reason)
}

// Is reports whether target is ErrDenied.
func (e *DeniedError) Is(target error) bool { return target == ErrDenied }

// refusedError is a request that the client never sends, whatever the
// network does (a CONNECT request): it matches ErrDenied, so that callers
// that retry network trouble do not retry it.
type refusedError struct{ msg string }

func (e *refusedError) Error() string        { return e.msg }
func (e *refusedError) Is(target error) bool { return target == ErrDenied }
