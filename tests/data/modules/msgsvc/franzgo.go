package main

import (
	"context"
	"net/http"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/plugin/kotel"
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
	// A client that the program traces itself, with franz-go's OpenTelemetry plugin: the
	// instrumentation leaves it alone (one producer span, kotel's).
	traced, err := kgo.NewClient(
		kgo.SeedBrokers(brokers...),
		kgo.DefaultProduceTopic(franzGoTopic),
		kgo.WithHooks(kotel.NewKotel(kotel.WithTracer(kotel.NewTracer())).Hooks()...),
	)
	if err != nil {
		return err
	}
	mux.HandleFunc("/franzgo/kotel", func(rw http.ResponseWriter, r *http.Request) {
		v := r.URL.Query().Get("v")
		reply(rw, traced.ProduceSync(r.Context(), &kgo.Record{Key: []byte("k-" + v), Value: []byte(v)}).FirstErr())
	})
	consumers.Add(1)
	go func() {
		defer consumers.Done()
		defer cl.Close()
		defer bad.Close()
		defer traced.Close()
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
