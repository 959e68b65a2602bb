package luapattern

import (
	"fmt"
	"strings"
	"testing"

	"github.com/yuin/gopher-lua/pm"
)

// webhookBody is a GitHub-like push payload of about 7 KB, the sender last.
func webhookBody() string {
	var b strings.Builder
	b.WriteString(`{"ref": "refs/heads/main", "before": "6113728f27ae82c7b1a177c8d03f9e96e0adf246", "after": "76ae82c7b1a177c8d03f9e96e0adf2466113728f", "repository": {`)
	for i := 0; b.Len() < 6800; i++ {
		fmt.Fprintf(&b, `"field_%d": "value number %d with some text", "count_%d": %d, `, i, i, i, i*7)
	}
	b.WriteString(`"private": false}, "pusher": {"name": "octocat", "email": "octocat@github.com"}, "sender": {"login": "octocat", "id": 583231, "type": "User"}}`)
	return b.String()
}

func BenchmarkPatternFind(b *testing.B) {
	body := webhookBody()
	for _, bc := range []struct {
		name, pattern, src string
		all                bool // every match, as gsub and gmatch find them
	}{
		{"branch", "^refs/heads/(.+)$", "refs/heads/main", false},
		{"json-sender", `"sender"%s*:%s*{%s*"login"%s*:%s*"([^"]*)"`, body, false},
		{"json-ref", `"ref"%s*:%s*"refs/heads/([^"]+)"`, body, false},
		{"json-keys", `"([%w_]+)"%s*:`, body, true},
	} {
		limit := 1
		if bc.all {
			limit = -1
		}
		if ms, err := pm.Find(bc.pattern, []byte(bc.src), 0, limit); err != nil || len(ms) == 0 {
			b.Fatalf("%s: pm finds %d matches (%v)", bc.name, len(ms), err)
		}
		b.Run(bc.name+"/pm", func(b *testing.B) {
			b.SetBytes(int64(len(bc.src)))
			for b.Loop() {
				pm.Find(bc.pattern, []byte(bc.src), 0, limit)
			}
		})
		run := func(b *testing.B, p *Pattern) {
			if bc.all {
				for it := p.Iter(bc.src, 0, nil); it.Next(); {
				}
			} else if _, ok, _ := p.Match(bc.src, 0, nil); !ok {
				b.Fatal("no match")
			}
		}
		b.Run(bc.name+"/luapattern", func(b *testing.B) {
			b.SetBytes(int64(len(bc.src)))
			for b.Loop() {
				p, err := Compile(bc.pattern)
				if err != nil {
					b.Fatal(err)
				}
				run(b, p)
			}
		})
		b.Run(bc.name+"/luapattern-compiled", func(b *testing.B) {
			p, err := Compile(bc.pattern)
			if err != nil {
				b.Fatal(err)
			}
			b.SetBytes(int64(len(bc.src)))
			for b.Loop() {
				run(b, p)
			}
		})
	}
}
