package main

import (
	"context"
	"net/http"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

func init() { register("franzgo", startFranzGo) }

const franzGoTopic = "orders-franzgo"

func startFranzGo(ctx context.Context, mux *http.ServeMux) error {
	if *kafkaBrokers == "" {
		return nil
	}
	brokers := strings.Split(*kafkaBrokers, ",")
	cl, err := kgo.NewClient(
		kgo.SeedBrokers(brokers...),
		kgo.DefaultProduceTopic(franzGoTopic),
		kgo.ConsumeTopics(franzGoTopic),
		kgo.ConsumerGroup("msgsvc-franzgo"),
		kgo.FetchMaxWait(50*time.Millisecond),
	)
	if err != nil {
		return err
	}
	mux.HandleFunc("/franzgo/send", func(rw http.ResponseWriter, r *http.Request) {
		v := r.URL.Query().Get("v")
		reply(rw, cl.ProduceSync(r.Context(), &kgo.Record{Key: []byte("k-" + v), Value: []byte(v)}).FirstErr())
	})
	// A client with no default topic, given a record without one: the send fails.
	bad, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
	if err != nil {
		return err
	}
	mux.HandleFunc("/franzgo/fail", func(rw http.ResponseWriter, r *http.Request) {
		reply(rw, bad.ProduceSync(r.Context(), &kgo.Record{Value: []byte("lost")}).FirstErr())
	})
	go func() {
		defer cl.Close()
		defer bad.Close()
		for {
			fs := cl.PollFetches(ctx)
			if ctx.Err() != nil || fs.IsClientClosed() {
				return
			}
			fs.EachError(func(t string, p int32, err error) { say("error franzgo %s/%d: %v", t, p, err) })
			fs.EachRecord(func(r *kgo.Record) { say("consumed franzgo %s", r.Value) })
		}
	}()
	return nil
}
