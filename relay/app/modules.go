package app

import (
	"github.com/relayfn/relayfn/builtins"
	"github.com/relayfn/relayfn/relay/config"
)

// ModuleDeps returns what the functions' modules use: eg (the egress
// client) for the http, bigquery and mailgun modules and for the email
// module's SMTP connections, with f's server.modules settings. It lives
// here, not in relay/config, so that reading a relay.yaml (which the admin
// API does) does not link the modules and their SDKs.
func ModuleDeps(f *config.File, eg builtins.Egress) builtins.Deps {
	m := f.Server.Modules
	deps := builtins.EgressDeps(eg)
	deps.BigQueryEndpoint = m.BigQuery.Endpoint
	deps.MailgunBaseURL = m.Mailgun.BaseURL
	deps.SMTP = emailOptions(m.SMTP)
	return deps
}

// emailOptions returns the email module's settings of
// server.modules.smtp, or nil when no host is configured (the module dials
// through Deps.Dial, the egress client's).
func emailOptions(s config.SMTP) *builtins.EmailOptions {
	if s.Host == "" {
		return nil
	}
	return &builtins.EmailOptions{
		Host:        s.Host,
		Port:        s.Port,
		Username:    s.Username,
		Password:    s.Password,
		From:        s.From,
		StartTLS:    s.StartTLS,
		ImplicitTLS: s.ImplicitTLS,
	}
}
