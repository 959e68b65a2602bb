package client

import (
	"errors"
	"fmt"
	"mime"
	"net/http"
	"strings"
	"unicode/utf8"
)

// ErrNotRelay is returned when the server answered, but not as a relayfn
// admin API does: --server points at something else (a web page, a proxy,
// another service, a relay's input address).
var ErrNotRelay = errors.New("not a relayfn admin API")

// notRelay describes an answer that is not the admin API's: its status,
// content type and the start of its body.
func notRelay(c *Client, method, path string, resp *http.Response, body []byte) error {
	ct := resp.Header.Get("Content-Type")
	if ct == "" {
		ct = "no Content-Type"
	}
	sample := strings.Join(strings.Fields(string(body)), " ")
	if len(sample) > 60 {
		cut := 60
		for cut > 0 && !utf8.RuneStart(sample[cut]) {
			cut--
		}
		sample = sample[:cut] + "…"
	}
	what := fmt.Sprintf("%d %s, %s", resp.StatusCode, http.StatusText(resp.StatusCode), ct)
	if sample != "" {
		what += fmt.Sprintf(", %q", sample)
	}
	return fmt.Errorf("relay: %s %s: %s is %w (it answered %s); check --server (FNCTL_SERVER): it is the relay's base address, such as http://localhost:8080",
		method, path, c.base, ErrNotRelay, what)
}

// isJSON reports whether a Content-Type is JSON.
func isJSON(contentType string) bool {
	mt, _, err := mime.ParseMediaType(contentType)
	return err == nil && (mt == "application/json" || strings.HasSuffix(mt, "+json"))
}
