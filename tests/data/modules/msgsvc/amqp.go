package main

import (
	"context"
	"net/http"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
)

var amqpURL = flagSet.String("amqp", "", "RabbitMQ URL")

func init() { register("amqp091", startAMQP) }

const (
	amqpQueue     = "orders-amqp"
	amqpPushQueue = "orders-amqp-push" // read by a Consume consumer
)

func startAMQP(ctx context.Context, mux *http.ServeMux) error {
	if *amqpURL == "" {
		return nil
	}
	conn, err := amqp.Dial(*amqpURL)
	if err != nil {
		return err
	}
	pub, err := conn.Channel()
	if err != nil {
		return err
	}
	if _, err := pub.QueueDeclare(amqpQueue, false, true, false, false, nil); err != nil {
		return err
	}
	closed, err := conn.Channel()
	if err != nil {
		return err
	}
	closed.Close()
	sub, err := conn.Channel()
	if err != nil {
		return err
	}
	mux.HandleFunc("/amqp091/publish", func(rw http.ResponseWriter, r *http.Request) {
		reply(rw, pub.PublishWithContext(r.Context(), "", amqpQueue, false, false,
			amqp.Publishing{ContentType: "text/plain", MessageId: "m-" + r.URL.Query().Get("v"), Body: []byte(r.URL.Query().Get("v"))}))
	})
	if _, err := pub.QueueDeclare(amqpPushQueue, false, true, false, false, nil); err != nil {
		return err
	}
	mux.HandleFunc("/amqp091/push", func(rw http.ResponseWriter, r *http.Request) {
		reply(rw, pub.PublishWithContext(r.Context(), "", amqpPushQueue, false, false,
			amqp.Publishing{MessageId: "m-" + r.URL.Query().Get("v"), Body: []byte(r.URL.Query().Get("v"))}))
	})
	push, err := conn.Channel()
	if err != nil {
		return err
	}
	// A consumer tag left to the library, which generates one.
	deliveries, err := push.Consume(amqpPushQueue, "", true, false, false, false, nil)
	if err != nil {
		return err
	}
	go func() {
		for d := range deliveries {
			say("delivered amqp091 %s", d.Body)
		}
	}()
	mux.HandleFunc("/amqp091/fail", func(rw http.ResponseWriter, r *http.Request) {
		reply(rw, closed.PublishWithContext(r.Context(), "", amqpQueue, false, false, amqp.Publishing{Body: []byte("lost")}))
	})
	go func() {
		defer conn.Close()
		for ctx.Err() == nil {
			m, ok, err := sub.Get(amqpQueue, true)
			if err != nil {
				say("error amqp091 %v", err)
				return
			}
			if !ok {
				time.Sleep(20 * time.Millisecond)
				continue
			}
			say("pulled amqp091 %s", m.Body)
		}
	}()
	return nil
}
