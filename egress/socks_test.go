package egress_test

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"sync"
	"testing"

	"github.com/relayfn/relayfn/egress"
)

// socksServer is a small SOCKS5 server (RFC 1928, CONNECT only, with
// optional RFC 1929 username/password) that records the targets it is asked
// for and connects every one of them to that port on 127.0.0.1.
type socksServer struct {
	ln         net.Listener
	user, pass string // required credentials, if user != ""
	mu         sync.Mutex
	targets    []string
	wg         sync.WaitGroup
}

func newSOCKSServer(t *testing.T, user, pass string) *socksServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &socksServer{ln: ln, user: user, pass: pass}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			s.wg.Add(1)
			go func() {
				defer s.wg.Done()
				s.serve(conn)
			}()
		}
	}()
	t.Cleanup(func() { ln.Close(); s.wg.Wait() })
	return s
}

func (s *socksServer) url() string {
	if s.user != "" {
		return fmt.Sprintf("socks5://%s:%s@%s", s.user, s.pass, s.ln.Addr())
	}
	return "socks5://" + s.ln.Addr().String()
}

func (s *socksServer) take() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	t := s.targets
	s.targets = nil
	return t
}

func (s *socksServer) serve(c net.Conn) {
	defer c.Close()
	buf := make([]byte, 512)
	// Greeting: VER NMETHODS METHODS...
	if _, err := io.ReadFull(c, buf[:2]); err != nil || buf[0] != 5 {
		return
	}
	methods := buf[2 : 2+int(buf[1])]
	if _, err := io.ReadFull(c, methods); err != nil {
		return
	}
	want := byte(0x00) // no authentication
	if s.user != "" {
		want = 0x02 // username/password
	}
	ok := false
	for _, m := range methods {
		ok = ok || m == want
	}
	if !ok {
		c.Write([]byte{5, 0xff})
		return
	}
	c.Write([]byte{5, want})
	if s.user != "" {
		// VER ULEN UNAME PLEN PASSWD
		if _, err := io.ReadFull(c, buf[:2]); err != nil {
			return
		}
		u := make([]byte, buf[1])
		io.ReadFull(c, u)
		io.ReadFull(c, buf[:1])
		p := make([]byte, buf[0])
		io.ReadFull(c, p)
		if string(u) != s.user || string(p) != s.pass {
			c.Write([]byte{1, 1})
			return
		}
		c.Write([]byte{1, 0})
	}
	// Request: VER CMD RSV ATYP DST.ADDR DST.PORT
	if _, err := io.ReadFull(c, buf[:4]); err != nil || buf[1] != 1 {
		return
	}
	var host string
	switch buf[3] {
	case 1:
		io.ReadFull(c, buf[:4])
		host = net.IP(buf[:4]).String()
	case 3:
		io.ReadFull(c, buf[:1])
		n := int(buf[0])
		io.ReadFull(c, buf[:n])
		host = string(buf[:n])
	case 4:
		io.ReadFull(c, buf[:16])
		host = net.IP(buf[:16]).String()
	default:
		return
	}
	if _, err := io.ReadFull(c, buf[:2]); err != nil {
		return
	}
	port := strconv.Itoa(int(binary.BigEndian.Uint16(buf[:2])))
	s.mu.Lock()
	s.targets = append(s.targets, net.JoinHostPort(host, port))
	s.mu.Unlock()

	up, err := net.Dial("tcp", net.JoinHostPort("127.0.0.1", port))
	if err != nil {
		c.Write([]byte{5, 5, 0, 1, 0, 0, 0, 0, 0, 0})
		return
	}
	defer up.Close()
	c.Write([]byte{5, 0, 0, 1, 127, 0, 0, 1, 0, 0})
	done := make(chan struct{}, 2)
	go func() { io.Copy(up, c); done <- struct{}{} }()
	go func() { io.Copy(c, up); done <- struct{}{} }()
	<-done
}

func TestSOCKS5Proxy(t *testing.T) {
	plain := newDest(t, false, nil)
	secure := newDest(t, true, nil)
	for _, auth := range []bool{false, true} {
		t.Run(fmt.Sprintf("auth=%v", auth), func(t *testing.T) {
			var s *socksServer
			if auth {
				s = newSOCKSServer(t, "relay", "pw")
			} else {
				s = newSOCKSServer(t, "", "")
			}
			// No allow ranges: the socks server is on loopback, but it is
			// the operator's proxy, so the guard does not apply to it.
			c := newClient(t, egress.Config{Proxy: s.url(), TLSClientConfig: trust(secure.Server)})

			mustGet(t, c, "ci", plain.url("plain.example.com", "/"))
			mustGet(t, c, "ci", secure.url("secure.example.com", "/"))
			want := []string{"plain.example.com:" + plain.port(), "secure.example.com:" + secure.port()}
			if got := s.take(); fmt.Sprint(got) != fmt.Sprint(want) {
				t.Errorf("socks targets = %q, want %q", got, want)
			}

			// Non-HTTP traffic (SMTP) also goes through a socks5 proxy.
			conn, err := c.DialContext(context.Background(), "ci", "tcp", net.JoinHostPort("smtp.example.com", plain.port()))
			if err != nil {
				t.Fatalf("DialContext through socks5: %v", err)
			}
			conn.Close()
			if got := s.take(); len(got) != 1 || got[0] != "smtp.example.com:"+plain.port() {
				t.Errorf("socks targets = %q, want the SMTP host", got)
			}
		})
	}

	// Bypassed hosts go direct, where the guard applies.
	s := newSOCKSServer(t, "", "")
	c := newClient(t, egress.Config{Proxy: s.url(), NoProxy: "smtp.example.com"})
	_, err := c.DialContext(context.Background(), "ci", "tcp", net.JoinHostPort("smtp.example.com", plain.port()))
	var d *egress.DeniedError
	if !errors.As(err, &d) || d.By != egress.ByGuard {
		t.Errorf("bypassed DialContext: err = %v, want a guard refusal", err)
	}
	if got := s.take(); len(got) != 0 {
		t.Errorf("bypassed dial reached the socks server: %q", got)
	}
}
