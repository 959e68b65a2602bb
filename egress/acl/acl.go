package acl

import (
	"fmt"
	"net/netip"
	"strings"

	"golang.org/x/net/idna"
	"golang.org/x/net/publicsuffix"
)

// Result is the outcome of an ACL decision. The zero value is Deny, so a
// Decision that was never filled in refuses.
type Result int

const (
	// Deny refuses the request.
	Deny Result = iota
	// Allow lets the request through.
	Allow
	// AllowAndReport lets the request through; the caller records that an
	// enforcing policy would have denied it.
	AllowAndReport
)

// String returns the result's name, as used in logs.
func (r Result) String() string {
	switch r {
	case Deny:
		return "deny"
	case Allow:
		return "allow"
	case AllowAndReport:
		return "allow and report"
	}
	return fmt.Sprintf("Result(%d)", int(r))
}

// action is what a rule does with a host that none of its lists matched.
type action int

const (
	actionOpen    action = iota + 1 // allow any host
	actionReport                    // allow any host and report it
	actionEnforce                   // deny any host
)

// parseAction maps a policy file's action to an Action.
func parseAction(s string) (action, error) {
	switch s {
	case "open":
		return actionOpen, nil
	case "report":
		return actionReport, nil
	case "enforce":
		return actionEnforce, nil
	case "":
		return 0, fmt.Errorf("missing (want open, report or enforce)")
	}
	return 0, fmt.Errorf("unknown action %q (want open, report or enforce)", s)
}

// Reasons given in a Decision. Except for ReasonNoACL they are Smokescreen's,
// so operators moving a policy between the two see the same words.
const (
	ReasonNoRule        = "no rule matched"
	ReasonAllowedDomain = "host matched allowed domain in rule"
	ReasonGlobalDeny    = "host matched rule in global deny list"
	ReasonGlobalAllow   = "host matched rule in global allow list"
	ReasonOpen          = "rule has open enforcement policy"
	ReasonReport        = "rule has allow and report policy"
	ReasonEnforce       = "rule has enforce policy"
	ReasonDefaultRule   = "default rule policy used"
	ReasonNoACL         = "no ACL configured"
)

// Decision is the ACL's answer for one service and host.
type Decision struct {
	Result Result
	// Reason says which step of the decision order produced Result.
	Reason string
	// Project is the owner named by the rule that applied, if any.
	Project string
	// Default reports whether the default rule applied because the service
	// has no rule of its own.
	Default bool
}

// ACL is a loaded, validated policy. It is immutable and safe for concurrent
// use. Build one with [Load] or [LoadFile].
type ACL struct {
	services map[string]*rule
	def      *rule
	allow    []glob // global_allow_list
	deny     []glob // global_deny_list
}

// rule is one service's (or the default) policy.
type rule struct {
	project string
	action  action
	domains []glob
}

// glob is a validated domain glob.
type glob struct {
	host     string // normalized host, without the "*." of a wildcard
	wildcard bool   // "*.host": subdomains of host, not host itself
}

// String returns the glob as it would be written in a policy.
func (g glob) String() string {
	if g.wildcard {
		return "*." + g.host
	}
	return g.host
}

// match reports whether the normalized host h matches g.
func (g glob) match(h string) bool {
	if g.wildcard {
		return len(h) > len(g.host)+1 && strings.HasSuffix(h, g.host) && h[len(h)-len(g.host)-1] == '.'
	}
	return h == g.host
}

func matchAny(globs []glob, h string) bool {
	for _, g := range globs {
		if g.match(h) {
			return true
		}
	}
	return false
}

// Decide applies the policy to a request from service to host. host is a
// hostname or IP address, with or without brackets, port excluded. A nil ACL
// allows everything (no policy configured).
func (a *ACL) Decide(service, host string) Decision {
	if a == nil {
		return Decision{Result: Allow, Reason: ReasonNoACL}
	}
	r, ok := a.services[service]
	isDefault := false
	if !ok {
		r, isDefault = a.def, true
	}
	if r == nil {
		return Decision{Result: Deny, Reason: ReasonNoRule}
	}
	d := Decision{Project: r.project, Default: isDefault}

	h, err := normalizeHost(host)
	if err != nil {
		// Not a valid host name: no list can match it, so the action decides.
		h = ""
	}
	switch {
	case h != "" && matchAny(r.domains, h):
		d.Result, d.Reason = Allow, ReasonAllowedDomain
		return d
	case h != "" && matchAny(a.deny, h):
		d.Result, d.Reason = Deny, ReasonGlobalDeny
		return d
	case h != "" && matchAny(a.allow, h):
		d.Result, d.Reason = Allow, ReasonGlobalAllow
		return d
	}
	switch r.action {
	case actionOpen:
		d.Result, d.Reason = Allow, ReasonOpen
	case actionReport:
		d.Result, d.Reason = AllowAndReport, ReasonReport
	default:
		d.Result, d.Reason = Deny, ReasonEnforce
	}
	if isDefault {
		d.Reason = ReasonDefaultRule
	}
	return d
}

// normalizeHost returns host in the form globs are compared in: lowercase,
// no trailing dot, no brackets around an IPv6 address, IP addresses in their
// canonical text form and internationalized names in punycode. It fails for
// anything that is not a syntactically valid host name or IP address.
func normalizeHost(host string) (string, error) {
	h := strings.TrimSuffix(host, ".")
	if strings.HasPrefix(h, "[") && strings.HasSuffix(h, "]") {
		h = h[1 : len(h)-1]
	}
	if h == "" {
		return "", fmt.Errorf("empty host")
	}
	if ip, err := netip.ParseAddr(h); err == nil {
		if ip.Zone() != "" {
			return "", fmt.Errorf("IP address with zone %q", host)
		}
		return ip.Unmap().String(), nil
	}
	if !isASCII(h) {
		a, err := idna.Lookup.ToASCII(h)
		if err != nil {
			return "", fmt.Errorf("invalid internationalized name %q: %w", host, err)
		}
		h = a
	}
	h = strings.ToLower(h)
	if len(h) > 253 {
		return "", fmt.Errorf("host name longer than 253 characters")
	}
	for _, label := range strings.Split(h, ".") {
		if label == "" {
			return "", fmt.Errorf("empty label in %q", host)
		}
		if len(label) > 63 {
			return "", fmt.Errorf("label %q longer than 63 characters", label)
		}
		for i := 0; i < len(label); i++ {
			c := label[i]
			if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
				return "", fmt.Errorf("invalid character %q in %q", c, host)
			}
		}
	}
	return h, nil
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}

// parseGlob validates and normalizes one domain glob.
func parseGlob(s string) (glob, error) {
	if s == "" {
		return glob{}, fmt.Errorf("empty domain")
	}
	if s == "*" || s == "*." {
		return glob{}, fmt.Errorf("domain glob %q must not match everything", s)
	}
	var g glob
	rest := s
	if strings.HasPrefix(rest, "*.") {
		g.wildcard = true
		rest = rest[2:]
	} else if strings.HasPrefix(rest, "*") {
		return glob{}, fmt.Errorf("domain glob %q: a wildcard must be a whole leading label, as in \"*.example.com\"", s)
	}
	if strings.Contains(rest, "*") {
		return glob{}, fmt.Errorf("domain glob %q: wildcards are only supported as a leading \"*.\"", s)
	}
	h, err := normalizeHost(rest)
	if err != nil {
		return glob{}, fmt.Errorf("domain glob %q: %w", s, err)
	}
	g.host = h
	if g.wildcard {
		if _, err := netip.ParseAddr(h); err == nil {
			return glob{}, fmt.Errorf("domain glob %q: a wildcard cannot apply to an IP address", s)
		}
		// A wildcard over a public suffix would let anyone who registers a
		// name there in. An unlisted single label ("*.internal") is allowed:
		// it is a private namespace, not a registry.
		if ps, icann := publicsuffix.PublicSuffix(h); ps == h && (icann || strings.Contains(h, ".")) {
			return glob{}, fmt.Errorf("domain glob %q: %q is a public suffix", s, h)
		}
	}
	return g, nil
}
