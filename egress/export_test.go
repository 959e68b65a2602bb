package egress

import (
	"fmt"
	"net/netip"
)

// LoopbackOnly makes c refuse, in its dial hook and after the address guard,
// any connection that is not to a loopback address. Tests set it as a safety
// net: if the guard had a bug, the test would fail instead of sending a
// packet off the machine.
func LoopbackOnly(c *Client) {
	c.dialCheck = func(ip netip.Addr) error {
		if !ip.Unmap().IsLoopback() {
			return fmt.Errorf("test safety net: refusing to connect to non-loopback %s", ip)
		}
		return nil
	}
}
