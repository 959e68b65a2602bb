package config_test

import (
	"context"
	"strings"
	"testing"

	"github.com/relayfn/relayfn/relay/config"
)

func TestFunctionReference(t *testing.T) {
	ctx := context.Background()
	st, e := newStore(t), newEngine(t)
	ref := parse(t, "functions:\n  - name: pushed\n    timeout: 3s\nbuckets:\n  - name: b\n    inputs:\n      - {name: in, function: pushed}\n")
	if !ref.Functions[0].Reference {
		t.Fatal("an entry without file or source is not a reference")
	}
	_, err := config.Apply(ctx, st, e, ref)
	if err == nil || !strings.Contains(err.Error(), `functions[0]: line 2: function "pushed" is not on the relay`) {
		t.Fatalf("err = %v", err)
	}

	// Pushed separately (inline source here), then referenced.
	if _, err := config.Apply(ctx, st, e, parse(t, "functions:\n  - name: pushed\n    source: x = 1\n")); err != nil {
		t.Fatal(err)
	}
	// The document sent to a relay keeps it a reference.
	doc, err := ref.Document()
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(doc), "source") {
		t.Errorf("the document gives the reference a source:\n%s", doc)
	}
	sent, err := config.Parse(doc, config.ParseOptions{})
	if err != nil || !sent.Functions[0].Reference {
		t.Fatalf("parse the document: %v", err)
	}
	rep, err := config.Apply(ctx, st, e, sent)
	if err != nil {
		t.Fatal(err)
	}
	got := actions(rep)
	if got["function pushed"] != config.Updated || got["input b/in"] != config.Created {
		t.Errorf("report = %v", got)
	}
	fn, _ := st.GetFunction(ctx, "pushed")
	if fn.Source != "x = 1" || fn.Version != 1 || fn.Timeout.String() != "3s" {
		t.Errorf("function = v%d %q %v", fn.Version, fn.Source, fn.Timeout)
	}
}
