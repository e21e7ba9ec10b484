package main

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"time"

	kafka "github.com/segmentio/kafka-go"
)

var kafkaBrokers = flagSet.String("kafka", "", "Kafka bootstrap address (host:port)")

func init() { register("kafkago", startKafkaGo) }

const kafkaGoTopic = "orders-kafkago"

func startKafkaGo(ctx context.Context, mux *http.ServeMux) error {
	if *kafkaBrokers == "" {
		return nil
	}
	brokers := strings.Split(*kafkaBrokers, ",")
	w := &kafka.Writer{Addr: kafka.TCP(brokers...), Topic: kafkaGoTopic, BatchTimeout: time.Millisecond, RequiredAcks: kafka.RequireOne}
	mux.HandleFunc("/kafkago/send", func(rw http.ResponseWriter, r *http.Request) {
		v := r.URL.Query().Get("v")
		reply(rw, w.WriteMessages(r.Context(), kafka.Message{Key: []byte("k-" + v), Value: []byte(v)}))
	})
	// A broker that is not there: the send fails.
	bad := &kafka.Writer{Addr: kafka.TCP("127.0.0.1:1"), Topic: kafkaGoTopic, MaxAttempts: 1}
	mux.HandleFunc("/kafkago/fail", func(rw http.ResponseWriter, r *http.Request) {
		reply(rw, bad.WriteMessages(r.Context(), kafka.Message{Value: []byte("lost")}))
	})
	rd := kafka.NewReader(kafka.ReaderConfig{
		Brokers: brokers, Topic: kafkaGoTopic, GroupID: "msgsvc-kafkago",
		MaxWait: 50 * time.Millisecond, CommitInterval: 0,
	})
	consumers.Add(1)
	go func() {
		defer consumers.Done()
		defer rd.Close()
		for {
			m, err := rd.ReadMessage(ctx)
			if err != nil {
				if !errors.Is(err, context.Canceled) {
					say("error kafkago %v", err)
				}
				return
			}
			say("consumed kafkago %s", m.Value)
		}
	}()
	return nil
}
