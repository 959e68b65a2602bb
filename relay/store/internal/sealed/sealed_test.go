package sealed

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/relayfn/relayfn/relay/seal"
)

func TestValueOpen(t *testing.T) {
	s, err := seal.New(bytes.Repeat([]byte{7}, seal.KeySize))
	if err != nil {
		t.Fatal(err)
	}
	b := Value(s, []byte("secret"), "webhooks", "w1", "body")
	got, err := Open(s, b, "webhooks", "w1", "body")
	if err != nil || string(got) != "secret" {
		t.Fatalf("Open = %q, %v; want %q", got, err, "secret")
	}
	if got, err := Open(s, nil, "webhooks", "w1", "body"); got != nil || err != nil {
		t.Errorf("Open(nil) = %q, %v; want nil, nil", got, err)
	}
	// A value copied into another row or column does not open.
	for _, c := range []struct{ table, id, column, msg string }{
		{"webhooks", "w2", "body", "webhook w2: body: "},
		{"webhooks", "w1", "headers", "webhook w1: headers: "},
		{"deliveries", "w1", "body", "delivery w1: body: "},
	} {
		_, err := Open(s, b, c.table, c.id, c.column)
		if !errors.Is(err, seal.ErrOpen) || !strings.HasPrefix(err.Error(), c.msg) {
			t.Errorf("Open(%s, %s, %s) = %v; want %q… wrapping seal.ErrOpen", c.table, c.id, c.column, err, c.msg)
		}
	}
}
