package main

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"
)

// signers are the providers fnctl send signs as.
var signers = []string{"github", "stripe", "shopify", "slack"}

// signRequest adds to h the signature headers provider sends for body,
// signed with secret at time now.
func signRequest(h http.Header, provider, secret string, body []byte, now time.Time) error {
	mac := func(msg []byte) []byte {
		m := hmac.New(sha256.New, []byte(secret))
		m.Write(msg)
		return m.Sum(nil)
	}
	ts := strconv.FormatInt(now.Unix(), 10)
	switch provider {
	case "github":
		h.Set("X-Hub-Signature-256", "sha256="+hex.EncodeToString(mac(body)))
	case "stripe":
		h.Set("Stripe-Signature", "t="+ts+",v1="+hex.EncodeToString(mac(append([]byte(ts+"."), body...))))
	case "shopify":
		h.Set("X-Shopify-Hmac-Sha256", base64.StdEncoding.EncodeToString(mac(body)))
	case "slack":
		h.Set("X-Slack-Request-Timestamp", ts)
		h.Set("X-Slack-Signature", "v0="+hex.EncodeToString(mac(append([]byte("v0:"+ts+":"), body...))))
	default:
		return usage("invalid --sign %q: want one of %s", provider, strings.Join(signers, ", "))
	}
	return nil
}

// sentAnswer is what fnctl send -o json prints.
type sentAnswer struct {
	Status  int         `json:"status"`
	Headers http.Header `json:"headers"`
	Body    string      `json:"body"`
}

func newSendCmd(a *app) *cobra.Command {
	r := newRemote(a)
	var (
		method, body, bodyFile, sign, secret string
		headers                              []string
	)
	cmd := &cobra.Command{
		Use:   "send INPUT_ID|URL [--body-file F] [-H 'K: V'] [-X METHOD] [--sign github|stripe|shopify|slack --secret S]",
		Short: "Send a webhook to a relay's public ingress, signed as a provider signs it",
		Long: `Send a request to an input of the relay (INPUT_ID, at --server's
/v1/webhooks/INPUT_ID) or to any URL, and print the answer. With --sign
and --secret, sign it as the provider does:

  github   X-Hub-Signature-256: sha256=<hex HMAC-SHA256 of the body>
  stripe   Stripe-Signature: t=<unix time>,v1=<hex HMAC-SHA256 of "t.body">
  shopify  X-Shopify-Hmac-Sha256: <base64 HMAC-SHA256 of the body>
  slack    X-Slack-Request-Timestamp: <unix time> and
           X-Slack-Signature: v0=<hex HMAC-SHA256 of "v0:time:body">

No admin token is needed. -o json prints the answer as JSON.

Exit status 1 when the relay cannot be reached or answers 400 or more.
` + remoteHelp,
		Example: `  fnctl send 0b7a3c52-6d1e-4a8f-9c39-2f1e5d7a9b10 --body-file push.json \
    -H 'X-GitHub-Event: push' --sign github --secret "$GITHUB_WEBHOOK_SECRET"`,
		Args: exactArgs("INPUT_ID|URL"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if r.output != "text" && r.output != "json" {
				return usage("invalid -o %q: want text or json", r.output)
			}
			target := args[0]
			if !strings.Contains(target, "://") {
				base, err := r.baseURL()
				if err != nil {
					return err
				}
				target = base + "/v1/webhooks/" + url.PathEscape(target)
			} else if u, err := url.Parse(target); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
				return usage("invalid URL %q: want an http(s) URL, or an input's ID", target)
			}
			if cmd.Flags().Changed("body") && bodyFile != "" {
				return usage("give the body one way: --body or --body-file")
			}
			payload := []byte(body)
			if bodyFile != "" {
				var err error
				if bodyFile == "-" {
					payload, err = io.ReadAll(cmd.InOrStdin())
				} else {
					payload, err = os.ReadFile(bodyFile)
				}
				if err != nil {
					return usage("read --body-file: %v", err)
				}
			}
			m := strings.ToUpper(strings.TrimSpace(method))
			if m == "" || strings.ContainsAny(m, " \t\r\n") {
				return usage("invalid -X %q", method)
			}
			h, err := headerValues(headers)
			if err != nil {
				return err
			}
			if (sign == "") != (secret == "") {
				return usage("--sign and --secret go together")
			}
			if sign != "" {
				if err := signRequest(h, sign, secret, payload, time.Now()); err != nil {
					return err
				}
			}
			if h.Get("Content-Type") == "" && len(payload) > 0 {
				h.Set("Content-Type", "application/json")
			}
			ctx, cancel := context.WithTimeout(cmd.Context(), time.Minute)
			defer cancel()
			req, err := http.NewRequestWithContext(ctx, m, target, bytes.NewReader(payload))
			if err != nil {
				return usage("invalid request: %v", err)
			}
			req.Header = h
			tr := newAdminTransport(a.getenv)
			defer tr.CloseIdleConnections()
			resp, err := (&http.Client{Transport: tr}).Do(req)
			if err != nil {
				return failed(fmt.Errorf("send: %v", err))
			}
			defer resp.Body.Close()
			rb, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
			if err != nil {
				return failed(fmt.Errorf("read the answer: %v", err))
			}
			if r.json() {
				err = writeJSON(a.stdout, sentAnswer{Status: resp.StatusCode, Headers: resp.Header, Body: string(rb)})
			} else {
				var b strings.Builder
				fmt.Fprintf(&b, "%s %s\n", resp.Proto, resp.Status)
				writeHeaders(&b, "", resp.Header)
				writeBody(&b, "", printableBody(rb))
				_, err = io.WriteString(a.stdout, b.String())
			}
			if err != nil {
				return failed(fmt.Errorf("write the answer: %w", err))
			}
			if resp.StatusCode >= 400 {
				return failed(fmt.Errorf("the answer is %s", resp.Status))
			}
			return nil
		},
	}
	fs := cmd.Flags()
	r.register(fs)
	fs.StringVarP(&method, "request", "X", http.MethodPost, "request method")
	fs.StringArrayVarP(&headers, "header", "H", nil, "request header 'Name: value' (repeatable)")
	fs.StringVar(&body, "body", "", "request body")
	fs.StringVar(&bodyFile, "body-file", "", "read the request body from a file ('-' for stdin)")
	fs.StringVar(&sign, "sign", "", "sign as this provider: "+strings.Join(signers, ", "))
	fs.StringVar(&secret, "secret", "", "the signing secret (with --sign)")
	return cmd
}
