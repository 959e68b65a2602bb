package relay

import (
	"context"
	"testing"
	"time"
)

func TestEventHubDropsForSlowReaders(t *testing.T) {
	var s Server
	slow := s.Subscribe("", 2)
	defer slow.Close()
	other := s.Subscribe("b2", 10)
	defer other.Close()
	b := &Bucket{ID: "b1", Name: "one"}
	for i := range 5 {
		s.events.received(b, &Input{ID: "in"}, "", 200+i, false)
	}
	s.events.received(&Bucket{ID: "b2"}, nil, "w", 401, false)
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	var got []Event
	for range 3 {
		e, err := slow.Next(ctx)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, e)
	}
	if got[0].Status != 200 || got[1].Status != 201 || got[2].Type != EventDropped || got[2].Dropped != 4 {
		t.Errorf("slow reader got %+v, want 200, 201, then 4 dropped", got)
	}
	e, err := other.Next(ctx)
	if err != nil || e.Status != 401 || e.BucketID != "b2" {
		t.Errorf("bucket filter: %+v, %v", e, err)
	}
	other.Close()
	slow.Close()
	if s.events.on() {
		t.Error("closed subscriptions still counted")
	}
	short, cancel2 := context.WithTimeout(context.Background(), 10*time.Millisecond)
	defer cancel2()
	if _, err := s.Subscribe("", 1).Next(short); err == nil {
		t.Error("Next without events returned no error at the deadline")
	}

	open := s.Subscribe("", 1)
	s.CloseEvents()
	if _, err := open.Next(context.Background()); err != ErrEventsClosed {
		t.Errorf("Next after CloseEvents = %v, want ErrEventsClosed", err)
	}
	if _, err := s.Subscribe("", 1).Next(context.Background()); err != ErrEventsClosed {
		t.Errorf("Next of a subscription made after CloseEvents = %v", err)
	}
}
