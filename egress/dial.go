package egress

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"syscall"
	"time"
)

const (
	dialTimeout = 30 * time.Second // per TCP connect; the request's own deadline may be shorter
	keepAlive   = 30 * time.Second
)

// proxyAddrKey marks a request context whose connections go to the proxy at
// the given canonical host:port. Only a dial to exactly that address skips
// the address guard.
type proxyAddrKey struct{}

func withProxyAddr(ctx context.Context, addr string) context.Context {
	return context.WithValue(ctx, proxyAddrKey{}, addr)
}

func parsePort(p string) (uint16, error) {
	n, err := strconv.ParseUint(p, 10, 16)
	if err != nil {
		return 0, fmt.Errorf("invalid port %q", p)
	}
	return uint16(n), nil
}

// dialTransport is http.Transport's DialContext: connections to the proxy
// the request was routed to are dialed as is, all others through the guard.
func (c *Client) dialTransport(ctx context.Context, network, addr string) (net.Conn, error) {
	if p, ok := ctx.Value(proxyAddrKey{}).(string); ok && strings.EqualFold(p, addr) {
		return c.dialProxy(ctx, network, addr)
	}
	return c.dialGuarded(ctx, network, addr)
}

// dialProxy connects to the operator's proxy. The operator chose it, so the
// address guard does not apply.
func (c *Client) dialProxy(ctx context.Context, network, addr string) (net.Conn, error) {
	d := net.Dialer{Timeout: dialTimeout, KeepAlive: keepAlive}
	conn, err := d.DialContext(ctx, network, addr)
	if err != nil {
		return nil, fmt.Errorf("egress: connect to proxy: %w", err)
	}
	return conn, nil
}

// dialGuarded resolves addr and connects to the first of its IPs that the
// address guard allows. The guard runs again in the dialer's Control hook on
// the socket's actual destination, after the socket exists but before
// connect(2), so a refused address never sees a packet.
func (c *Client) dialGuarded(ctx context.Context, network, addr string) (net.Conn, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, fmt.Errorf("egress: dial %s: %w", addr, err)
	}
	var ips []netip.Addr
	if ip, err := netip.ParseAddr(host); err == nil {
		ips = []netip.Addr{ip}
	} else {
		ips, err = c.lookupIP(ctx, host)
		if err != nil {
			return nil, fmt.Errorf("egress: resolve %s: %w", host, err)
		}
	}
	var deniedErr, dialErr error
	for _, ip := range ips {
		if !networkFits(network, ip) {
			continue
		}
		if err := c.guard.check(ip); err != nil {
			if deniedErr == nil {
				deniedErr = err
			}
			continue
		}
		conn, err := c.dialIP(ctx, network, ip, port)
		if err == nil {
			return conn, nil
		}
		if dialErr == nil {
			dialErr = err
		}
	}
	switch {
	case dialErr != nil: // an allowed address failed: that is the news
		return nil, dialErr
	case deniedErr != nil: // every address was refused
		return nil, deniedErr
	}
	return nil, fmt.Errorf("egress: no %s address for %s", network, host)
}

// dialIP connects to one IP with the guard in the socket's Control hook.
func (c *Client) dialIP(ctx context.Context, network string, ip netip.Addr, port string) (net.Conn, error) {
	d := net.Dialer{
		Timeout:        dialTimeout,
		KeepAlive:      keepAlive,
		ControlContext: c.control,
	}
	return d.DialContext(ctx, network, net.JoinHostPort(ip.String(), port))
}

// control is the dialer's last look at the destination before connect(2).
func (c *Client) control(_ context.Context, _, address string, _ syscall.RawConn) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return fmt.Errorf("egress: unexpected dial address %q: %w", address, err)
	}
	if err := c.guard.check(ap.Addr()); err != nil {
		return err
	}
	if c.dialCheck != nil {
		return c.dialCheck(ap.Addr())
	}
	return nil
}

func (c *Client) lookupIP(ctx context.Context, host string) ([]netip.Addr, error) {
	if c.cfg.LookupIP != nil {
		return c.cfg.LookupIP(ctx, host)
	}
	return net.DefaultResolver.LookupNetIP(ctx, "ip", host)
}

func networkFits(network string, ip netip.Addr) bool {
	switch network {
	case "tcp4", "udp4":
		return ip.Unmap().Is4()
	case "tcp6", "udp6":
		return ip.Is6() && !ip.Is4In6()
	}
	return true
}
