package main

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/nats-io/nats.go"
)

var natsURL = flagSet.String("nats", "", "NATS server URL")

func init() { register("nats", startNATS) }

const natsSubject = "orders.nats"

func startNATS(ctx context.Context, mux *http.ServeMux) error {
	if *natsURL == "" {
		return nil
	}
	nc, err := nats.Connect(*natsURL)
	if err != nil {
		return err
	}
	closed, err := nats.Connect(*natsURL)
	if err != nil {
		return err
	}
	closed.Close()
	// Pushed to a handler.
	if _, err := nc.Subscribe(natsSubject, func(m *nats.Msg) {
		say("consumed nats %s", m.Data)
	}); err != nil {
		return err
	}
	// Pulled with NextMsg.
	sub, err := nc.SubscribeSync(natsSubject)
	if err != nil {
		return err
	}
	if err := nc.Flush(); err != nil {
		return err
	}
	mux.HandleFunc("/nats/publish", func(rw http.ResponseWriter, r *http.Request) {
		reply(rw, nc.Publish(natsSubject, []byte(r.URL.Query().Get("v"))))
	})
	mux.HandleFunc("/nats/fail", func(rw http.ResponseWriter, r *http.Request) {
		reply(rw, closed.Publish(natsSubject, []byte("lost")))
	})
	go func() {
		defer nc.Close()
		for ctx.Err() == nil {
			m, err := sub.NextMsg(100 * time.Millisecond)
			if errors.Is(err, nats.ErrTimeout) {
				continue
			}
			if err != nil {
				say("error nats %v", err)
				return
			}
			say("pulled nats %s", m.Data)
		}
	}()
	return nil
}
