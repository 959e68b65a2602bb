package config_test

import (
	"testing"
	"time"

	"github.com/relayfn/relayfn/relay/config"
	"github.com/relayfn/relayfn/relay/netlimit"
)

// TestLimitsAndHealth: server.limits and server.health are read as
// written, and their zero values take netlimit's defaults.
func TestLimitsAndHealth(t *testing.T) {
	f, err := config.Parse([]byte(`
server:
  limits:
    max_connections: 500
    min_body_rate: 1000
    min_body_rate_grace: 2s
    idle_timeout: 15s
    read_header_timeout: 3s
    read_timeout: 30s
  health:
    degraded_status: 503
`), config.ParseOptions{})
	if err != nil {
		t.Fatal(err)
	}
	want := netlimit.Config{MaxConnections: 500, MinBodyRate: 1000, MinBodyRateGrace: 2 * time.Second,
		IdleTimeout: 15 * time.Second, ReadHeaderTimeout: 3 * time.Second, ReadTimeout: 30 * time.Second}
	if got := f.Server.Limits.NetLimit(); got != want {
		t.Errorf("limits = %+v, want %+v", got, want)
	}
	if f.Server.Health.DegradedStatus != 503 {
		t.Errorf("degraded_status = %d", f.Server.Health.DegradedStatus)
	}
	d, err := config.Parse([]byte("{}"), config.ParseOptions{})
	if err != nil {
		t.Fatal(err)
	}
	got := d.Server.Limits.NetLimit().WithDefaults()
	if got.MaxConnections != netlimit.DefaultMaxConnections() || got.MinBodyRate != 240 ||
		got.MinBodyRateGrace != 5*time.Second || got.IdleTimeout != 30*time.Second ||
		got.ReadHeaderTimeout != 5*time.Second || got.ReadTimeout != time.Minute {
		t.Errorf("default limits = %+v", got)
	}
}
