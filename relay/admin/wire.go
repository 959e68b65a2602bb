package admin

import (
	"fmt"

	"github.com/relayfn/relayfn/functions"
	"github.com/relayfn/relayfn/relay"
	"github.com/relayfn/relayfn/relay/api"
	"github.com/relayfn/relayfn/runtime"
)

// The admin API answers the wire types of relay/api. Handlers work with
// the model; wire converts what they answer, so that no model type (with
// its internal fields and nanosecond durations) reaches the wire.

// wire returns v's wire form: a model value or slice becomes its relay/api
// type; api values pass through. Any other type is a programming error,
// answered 500 rather than leaking a model's JSON.
func wire(v any) (any, error) {
	switch v := v.(type) {
	case *relay.Bucket:
		return bucketWire(v), nil
	case []*relay.Bucket:
		return wireAll(v, bucketWire), nil
	case *relay.Input:
		return inputWire(v), nil
	case []*relay.Input:
		return wireAll(v, inputWire), nil
	case *relay.Output:
		return outputWire(v), nil
	case []*relay.Output:
		return wireAll(v, outputWire), nil
	case *relay.Token:
		return tokenWire(v), nil
	case []*relay.Token:
		return wireAll(v, tokenWire), nil
	case *functions.Function:
		return functionWire(v), nil
	case []*functions.Function:
		return wireAll(v, functionWire), nil
	case *functions.Version:
		return versionWire(v), nil
	case []*functions.Version:
		return wireAll(v, versionWire), nil
	case *relay.Delivery:
		return DeliveryWire(v), nil
	case []*relay.Delivery:
		return wireAll(v, DeliveryWire), nil
	case *runtime.Result:
		return ResultWire(v), nil
	case api.ErrorResponse, *api.NewToken, api.NewToken, *api.DeliveryDetail, api.DeliveryDetail,
		api.ConfigKeys, *api.Report, api.FunctionSpec, *api.WebhookPage, *api.WebhookDetail,
		*api.NewAgentToken, []*api.AgentToken, []*api.Agent,
		api.BucketRetention, api.RetentionReport:
		return v, nil
	}
	return nil, fmt.Errorf("admin: no wire form for %T", v)
}

func wireAll[M, W any](ms []M, conv func(M) W) []W {
	out := make([]W, len(ms))
	for i, m := range ms {
		out[i] = conv(m)
	}
	return out
}

// bucketWire returns b's wire form (without its password hash).
func bucketWire(b *relay.Bucket) *api.Bucket {
	return &api.Bucket{
		ID: b.ID, Name: b.Name, Description: b.Description,
		Auth:      api.BucketAuth{Type: string(b.Auth.Type), Username: b.Auth.Username},
		Ephemeral: b.Ephemeral, CreatedAt: b.CreatedAt,
	}
}

// tokenWire returns t's wire form (without its secret's hash).
func tokenWire(t *relay.Token) *api.Token {
	return &api.Token{ID: t.ID, BucketID: t.BucketID, Name: t.Name, CreatedAt: t.CreatedAt}
}

// inputWire returns in's wire form.
func inputWire(in *relay.Input) *api.Input {
	r := in.Response
	return &api.Input{
		ID: in.ID, BucketID: in.BucketID, Name: in.Name, Description: in.Description, FunctionID: in.FunctionID,
		Response: api.ResponseConfig{
			Mode: string(r.Mode), Status: r.Status, Headers: r.Headers, Body: r.Body, Timeout: api.Duration(r.Timeout),
		},
		CreatedAt: in.CreatedAt,
	}
}

// outputWire returns out's wire form.
func outputWire(out *relay.Output) *api.Output {
	r := out.Retries
	return &api.Output{
		ID: out.ID, BucketID: out.BucketID, Name: out.Name, Destination: out.Destination,
		FunctionID: out.FunctionID, ResponseFunctionID: out.ResponseFunctionID,
		LockPath: out.LockPath, Timeout: api.Duration(out.Timeout), MaxInFlight: out.MaxInFlight,
		Retries: api.RetryPolicy{
			MaxAttempts: r.MaxAttempts, Backoff: string(r.Backoff),
			InitialInterval: api.Duration(r.InitialInterval), MaxInterval: api.Duration(r.MaxInterval),
		},
		Internal: out.Internal, AgentWindow: api.Duration(out.AgentWindow), Disabled: out.Disabled, CreatedAt: out.CreatedAt,
	}
}

// functionWire returns f's wire form.
func functionWire(f *functions.Function) *api.Function {
	return &api.Function{
		ID: f.ID, Name: f.Name, Driver: f.Driver, Version: f.Version, Hash: f.Hash, Source: f.Source,
		Timeout: api.Duration(f.Timeout), CreatedAt: f.CreatedAt, UpdatedAt: f.UpdatedAt,
	}
}

// versionWire returns v's wire form.
func versionWire(v *functions.Version) *api.Version {
	return &api.Version{FunctionID: v.FunctionID, Version: v.Version, Hash: v.Hash, Source: v.Source, CreatedAt: v.CreatedAt}
}

// DeliveryWire returns d's wire form.
func DeliveryWire(d *relay.Delivery) *api.Delivery {
	return &api.Delivery{
		ID: d.ID, WebhookID: d.WebhookID, BucketID: d.BucketID, OutputID: d.OutputID, State: string(d.State),
		Attempts: d.Attempts, NextAttemptAt: d.NextAttemptAt, LastStatus: d.LastStatus, LastError: d.LastError,
		CreatedAt: d.CreatedAt, UpdatedAt: d.UpdatedAt,
	}
}

// AttemptWire returns a's wire form.
func AttemptWire(a *relay.Attempt) *api.Attempt {
	return &api.Attempt{
		DeliveryID: a.DeliveryID, N: a.N, StartedAt: a.StartedAt, DurationMS: a.DurationMS,
		Status: a.Status, Error: a.Error, Logs: a.Logs,
		ResponseHeaders: a.ResponseHeader, ResponseBody: a.ResponseBody,
	}
}

// ResultWire returns the JSON form of a function run (the invoke answer,
// and what fnctl run -o json prints).
func ResultWire(res *runtime.Result) *api.Result {
	q, p := res.Request, res.Response
	logs := res.Logs
	if logs == nil {
		logs = []string{}
	}
	return &api.Result{
		Request: api.RequestResult{
			Method: q.Method, Path: q.Path, RawQuery: q.RawQuery, Headers: q.Headers, Body: q.Body,
			Modified: q.Modified, BodyModified: q.BodyModified, MethodModified: q.MethodModified,
			PathModified: q.PathModified, RawQueryModified: q.RawQueryModified, HeaderModified: q.HeaderModified,
		},
		Response:       api.ResponseResult{Modified: p.Modified, Status: p.Status, Headers: p.Headers, Body: p.Body},
		StopForwarding: res.StopForwarding,
		Error:          res.Error,
		Logs:           logs,
		DurationMS:     res.DurationMS,
	}
}
