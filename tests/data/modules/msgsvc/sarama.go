package main

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/IBM/sarama"
)

func init() { register("sarama", startSarama) }

const saramaTopic = "orders-sarama"

// saramaHandler is the consumer group's handler: it prints each message of its claims.
type saramaHandler struct{}

func (saramaHandler) Setup(sarama.ConsumerGroupSession) error   { return nil }
func (saramaHandler) Cleanup(sarama.ConsumerGroupSession) error { return nil }

func (saramaHandler) ConsumeClaim(sess sarama.ConsumerGroupSession, claim sarama.ConsumerGroupClaim) error {
	for msg := range claim.Messages() {
		say("consumed sarama %s", msg.Value)
		sess.MarkMessage(msg, "")
	}
	return nil
}

func startSarama(ctx context.Context, mux *http.ServeMux) error {
	if *kafkaBrokers == "" {
		return nil
	}
	brokers := strings.Split(*kafkaBrokers, ",")
	// One configuration for the sync producer, the async producer and the consumer group.
	conf := sarama.NewConfig()
	conf.Producer.Return.Successes = true
	conf.Producer.RequiredAcks = sarama.WaitForLocal
	conf.Consumer.Offsets.Initial = sarama.OffsetOldest
	conf.Consumer.MaxWaitTime = 50 * time.Millisecond
	conf.Consumer.Group.Rebalance.Retry.Backoff = 100 * time.Millisecond
	sp, err := sarama.NewSyncProducer(brokers, conf)
	if err != nil {
		return err
	}
	mux.HandleFunc("/sarama/send", func(rw http.ResponseWriter, r *http.Request) {
		v := r.URL.Query().Get("v")
		_, _, err := sp.SendMessage(&sarama.ProducerMessage{
			Topic: saramaTopic, Key: sarama.StringEncoder("k-" + v), Value: sarama.StringEncoder(v),
		})
		reply(rw, err)
	})
	mux.HandleFunc("/sarama/batch", func(rw http.ResponseWriter, r *http.Request) {
		v := r.URL.Query().Get("v")
		var msgs []*sarama.ProducerMessage
		for _, n := range []string{"1", "2"} {
			msgs = append(msgs, &sarama.ProducerMessage{
				Topic: saramaTopic, Key: sarama.StringEncoder("k-" + v + n), Value: sarama.StringEncoder(v + n),
			})
		}
		reply(rw, sp.SendMessages(msgs))
	})
	// A message larger than Producer.MaxMessageBytes: the send fails.
	mux.HandleFunc("/sarama/fail", func(rw http.ResponseWriter, r *http.Request) {
		_, _, err := sp.SendMessage(&sarama.ProducerMessage{
			Topic: saramaTopic, Value: sarama.ByteEncoder(make([]byte, conf.Producer.MaxMessageBytes+1)),
		})
		reply(rw, err)
	})
	ap, err := sarama.NewAsyncProducer(brokers, conf)
	if err != nil {
		return err
	}
	var apMu sync.Mutex
	mux.HandleFunc("/sarama/async", func(rw http.ResponseWriter, r *http.Request) {
		apMu.Lock()
		defer apMu.Unlock()
		ap.Input() <- &sarama.ProducerMessage{Topic: saramaTopic, Value: sarama.StringEncoder(r.URL.Query().Get("v"))}
		select {
		case <-ap.Successes():
			reply(rw, nil)
		case pe := <-ap.Errors():
			reply(rw, pe.Err)
		}
	})
	cg, err := sarama.NewConsumerGroup(brokers, "msgsvc-sarama", conf)
	if err != nil {
		return err
	}
	consumers.Add(1)
	go func() {
		defer consumers.Done()
		defer cg.Close()
		for ctx.Err() == nil {
			if err := cg.Consume(ctx, []string{saramaTopic}, saramaHandler{}); err != nil &&
				!errors.Is(err, sarama.ErrClosedConsumerGroup) && ctx.Err() == nil {
				say("error sarama %v", err)
				time.Sleep(100 * time.Millisecond)
			}
		}
	}()
	return nil
}
