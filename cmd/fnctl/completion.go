package main

import (
	"context"
	"net/http"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/relayfn/relayfn/relay"
	"github.com/relayfn/relayfn/relay/client"
)

// completionTimeout bounds the relay queries of one completion: a shell
// waits for it.
const completionTimeout = 3 * time.Second

// completer lists names and IDs from the relay for shell completion. A
// relay that cannot be reached (or refuses) completes nothing.
type completer struct{ a *app }

// kinds of values completed from the relay.
const (
	compBucket   = "bucket"
	compInput    = "input"
	compOutput   = "output"
	compFunction = "function"
	compDelivery = "delivery"
)

// argCompletions says what the first argument of each remote command is.
var argCompletions = map[string]string{
	"bucket get": compBucket, "bucket rm": compBucket,
	"bucket token create": compBucket, "bucket token ls": compBucket,
	"input create": compBucket, "input ls": compBucket, "input get": compInput, "input rm": compInput,
	"output create": compBucket, "output ls": compBucket, "output get": compOutput, "output rm": compOutput,
	"function update": compFunction, "function push": compFunction, "function get": compFunction,
	"function rm": compFunction, "function versions": compFunction, "function invoke": compFunction,
	"function config set": compFunction, "function config ls": compFunction, "function config rm": compFunction,
	"attach":          compFunction,
	"deliveries show": compDelivery, "deliveries replay": compDelivery,
}

// flagCompletions says what the flags of remote commands take.
var flagCompletions = map[string]string{
	"bucket": compBucket, "input": compInput, "output-id": compOutput,
	"function": compFunction, "response-function": compFunction,
}

// fixedCompletions are flags with a fixed set of values.
var fixedCompletions = map[string][]string{
	"state":    {string(relay.DeliveryPending), string(relay.DeliverySucceeded), string(relay.DeliveryFailed), string(relay.DeliveryStopped)},
	"auth":     {string(relay.AuthNone), string(relay.AuthBasic), string(relay.AuthToken)},
	"response": {string(relay.ResponseDefault), string(relay.ResponseStatic), string(relay.ResponseFunction), string(relay.ResponseDestination)},
	"output":   {"text", "json"},
}

// addCompletions wires dynamic completion into every command of root:
// names and IDs from the relay (reached as the command would reach it,
// with --server and --token), and the values of enumerated flags.
func addCompletions(a *app, root *cobra.Command) {
	c := &completer{a: a}
	var walk func(cmd *cobra.Command)
	walk = func(cmd *cobra.Command) {
		path := strings.TrimPrefix(cmd.CommandPath(), root.Name()+" ")
		if kind, ok := argCompletions[path]; ok && cmd.ValidArgsFunction == nil {
			cmd.ValidArgsFunction = func(cmd *cobra.Command, args []string, toComplete string) ([]string, cobra.ShellCompDirective) {
				if len(args) > 0 {
					return nil, cobra.ShellCompDirectiveNoFileComp
				}
				return c.complete(cmd, kind, toComplete), cobra.ShellCompDirectiveNoFileComp
			}
		}
		visit := func(f *pflag.Flag) {
			if _, ok := cmd.GetFlagCompletionFunc(f.Name); ok {
				return
			}
			if kind, ok := flagCompletions[f.Name]; ok && f.Value.Type() == "string" {
				cmd.RegisterFlagCompletionFunc(f.Name, func(cmd *cobra.Command, _ []string, toComplete string) ([]string, cobra.ShellCompDirective) {
					return c.complete(cmd, kind, toComplete), cobra.ShellCompDirectiveNoFileComp
				})
			} else if values, ok := fixedCompletions[f.Name]; ok && f.Value.Type() == "string" {
				cmd.RegisterFlagCompletionFunc(f.Name, cobra.FixedCompletions(values, cobra.ShellCompDirectiveNoFileComp))
			}
		}
		cmd.Flags().VisitAll(visit)
		cmd.PersistentFlags().VisitAll(visit)
		for _, sub := range cmd.Commands() {
			walk(sub)
		}
	}
	walk(root)
}

// complete lists the values of kind that start with prefix, each with a
// description after a tab where one helps (an input's bucket and name).
func (c *completer) complete(cmd *cobra.Command, kind, prefix string) []string {
	r := &remote{a: c.a}
	if cmd.Flags().Lookup("server") == nil {
		return nil // not a remote command
	}
	r.server, _ = cmd.Flags().GetString("server")
	r.token, _ = cmd.Flags().GetString("token")
	base, err := r.baseURL()
	if err != nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(cmd.Context(), completionTimeout)
	defer cancel()
	tr := newAdminTransport(c.a.getenv)
	defer tr.CloseIdleConnections()
	cl := client.New(base, r.tokenValue(), &http.Client{Transport: tr, Timeout: completionTimeout})

	var out []string
	add := func(value, desc string) {
		if !strings.HasPrefix(value, prefix) {
			return
		}
		if desc != "" {
			value += "\t" + desc
		}
		out = append(out, value)
	}
	bucketNames := func() map[string]string {
		names := map[string]string{}
		if bs, err := cl.ListBuckets(ctx); err == nil {
			for _, b := range bs {
				names[b.ID] = b.Name
			}
		}
		return names
	}
	bucketFlag := ""
	if f := cmd.Flags().Lookup("bucket"); f != nil {
		bucketFlag = f.Value.String()
	}
	switch kind {
	case compBucket:
		bs, err := cl.ListBuckets(ctx)
		if err != nil {
			return nil
		}
		for _, b := range bs {
			add(b.Name, b.Description)
		}
	case compFunction:
		fs, err := cl.ListFunctions(ctx)
		if err != nil {
			return nil
		}
		for _, f := range fs {
			add(f.Name, "")
		}
	case compInput:
		for id, bucket := range bucketNames() {
			ins, err := cl.ListInputs(ctx, id)
			if err != nil {
				return out
			}
			for _, in := range ins {
				add(in.ID, bucket+"/"+in.Name)
			}
		}
	case compOutput:
		if bucketFlag != "" {
			outs, err := cl.ListOutputs(ctx, bucketFlag)
			if err != nil {
				return nil
			}
			for _, o := range outs {
				add(o.Name, o.Destination) // a name is enough with --bucket
			}
			break
		}
		for id, bucket := range bucketNames() {
			outs, err := cl.ListOutputs(ctx, id)
			if err != nil {
				return out
			}
			for _, o := range outs {
				add(o.ID, bucket+"/"+o.Name)
			}
		}
	case compDelivery:
		ds, err := cl.ListDeliveries(ctx, client.DeliveryQuery{Bucket: bucketFlag, Limit: 100})
		if err != nil {
			return nil
		}
		for _, d := range ds {
			add(d.ID, d.State+" "+d.CreatedAt.Format(time.RFC3339))
		}
	}
	return out
}
