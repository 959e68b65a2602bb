package main

import (
	"github.com/spf13/pflag"

	"github.com/relayfn/relayfn/egress"
	"github.com/relayfn/relayfn/egress/acl"
)

// egressFlags are the outbound settings of run, test and bench: the same as
// relay.yaml's server.http.* and server.egress.*. With no --proxy, the
// HTTP_PROXY, HTTPS_PROXY and NO_PROXY environment applies.
type egressFlags struct {
	proxy       string
	noProxy     string
	roleHeader  string
	aclFile     string
	allowRanges []string
}

func (f *egressFlags) register(fs *pflag.FlagSet) {
	fs.StringVar(&f.proxy, "proxy", "", "forward proxy for the function's HTTP calls (http, https or socks5 URL)")
	fs.StringVar(&f.noProxy, "no-proxy", "", "hosts that bypass --proxy (comma-separated, NO_PROXY rules)")
	fs.StringVar(&f.roleHeader, "proxy-role-header", "", "header naming the bucket to the proxy (default X-Smokescreen-Role)")
	fs.StringVar(&f.aclFile, "acl", "", "egress ACL file (Smokescreen format)")
	fs.StringSliceVar(&f.allowRanges, "allow-range", nil, "CIDR the address guard lets through (repeatable)")
}

// client builds the egress client the flags describe.
func (f *egressFlags) client(a *app) (*egress.Client, error) {
	cfg := egress.Config{
		Proxy:           f.proxy,
		NoProxy:         f.noProxy,
		ProxyRoleHeader: f.roleHeader,
		AllowRanges:     f.allowRanges,
		Getenv:          a.getenv,
	}
	if f.aclFile != "" {
		policy, err := acl.LoadFile(f.aclFile)
		if err != nil {
			return nil, usage("--acl: %v", err)
		}
		cfg.ACL = policy
	}
	c, err := egress.New(cfg)
	if err != nil {
		return nil, usage("%v", err)
	}
	return c, nil
}
