// Package acl implements the egress access-control list: a per-service
// policy, in Stripe Smokescreen's v1 YAML format, naming the hosts each
// service may reach.
//
// A policy looks like this:
//
//	version: v1
//	services:
//	  - name: ci
//	    project: platform
//	    action: enforce
//	    allowed_domains:
//	      - api.github.com
//	      - "*.slack.com"
//	default:
//	  project: other
//	  action: report
//	global_allow_list:
//	  - status.example.com
//	global_deny_list:
//	  - metadata.google.internal
//
// The default rule may carry a name (Smokescreen's samples do); it is a
// label only and matches no service. The Smokescreen-only fields
// mitm_domains and allowed_external_proxies are refused with a
// [*FieldError] naming them: relayfn neither intercepts TLS nor chains to
// other proxies.
//
// # Decision order
//
// [ACL.Decide] picks the service's rule (or the default rule when the
// service has none; with neither, the host is denied) and then decides, first
// match wins:
//
//  1. the rule's allowed_domains: allow;
//  2. global_deny_list: deny;
//  3. global_allow_list: allow;
//  4. the rule's action: open allows, report allows and reports (the caller
//     logs what enforce would have denied), enforce denies.
//
// A service's own allowed_domains therefore override the global deny list,
// and the global deny list applies even to services in open or report mode.
//
// # Domain globs
//
// An entry is either an exact host ("api.example.com", or an IP address) or a
// wildcard "*.suffix" that matches every subdomain of suffix but not suffix
// itself: "*.example.com" matches "a.example.com" and "a.b.example.com", not
// "example.com". Wildcards elsewhere ("*", "*foo.com", "a.*.com") are
// rejected, and so is a wildcard whose suffix is a public suffix ("*.com",
// "*.co.uk", "*.github.io"), since anyone can register a name under it.
// Entries and hosts are compared in lowercase, without a trailing dot, with
// internationalized names in their ASCII (punycode) form.
package acl
