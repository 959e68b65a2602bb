package config

import (
	"net"
	"strings"
)

// selfBase is the URL the relay listening on listen is reached at from the
// same machine: a wildcard or empty host becomes loopback.
func selfBase(listen string) string {
	host, port, err := net.SplitHostPort(listen)
	if err != nil {
		host, port = listen, "80"
	}
	switch host {
	case "", "0.0.0.0":
		host = "127.0.0.1"
	case "::", "[::]":
		host = "::1"
	}
	return "http://" + net.JoinHostPort(host, port)
}

// resolveSelfDestinations turns the destinations written as a path on the
// relay ("/v1/webhooks/{id}", such as the quickstart's) into URLs on
// server.listen. It runs when the file is parsed, and again when it is
// applied, after fnctl serve --listen may have changed server.listen.
func (f *File) resolveSelfDestinations() {
	base := selfBase(f.Server.Listen)
	for i := range f.Buckets {
		for j := range f.Buckets[i].Outputs {
			o := &f.Buckets[i].Outputs[j]
			if o.SelfPath == "" && strings.HasPrefix(o.Destination, "/") && !strings.HasPrefix(o.Destination, "//") {
				o.SelfPath = o.Destination
			}
			if o.SelfPath != "" {
				o.Destination = base + o.SelfPath
			}
		}
	}
}
