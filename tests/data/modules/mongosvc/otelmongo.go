package main

// A Client traced by the program itself with the official otelmongo monitor: the instrumentation
// must leave it to otelmongo (one span per command, not two). The build with the oldest releases
// leaves this file out (otelmongo needs a newer driver).

import (
	"context"
	"net/http"
	"time"

	"go.mongodb.org/mongo-driver/bson"
	"go.mongodb.org/mongo-driver/mongo"
	"go.mongodb.org/mongo-driver/mongo/options"
	"go.opentelemetry.io/contrib/instrumentation/go.mongodb.org/mongo-driver/mongo/otelmongo"
)

func init() {
	extra["GET /v1/otelmongo"] = func(uri string) http.HandlerFunc {
		var client *mongo.Client
		if uri != "" {
			var err error
			client, err = mongo.Connect(context.Background(), options.Client().ApplyURI(uri).
				SetMonitor(otelmongo.NewMonitor()).SetServerSelectionTimeout(20*time.Second))
			if err != nil {
				panic(err)
			}
		}
		return func(w http.ResponseWriter, r *http.Request) {
			if client == nil {
				http.Error(w, "MONGO_URI not set", http.StatusServiceUnavailable)
				return
			}
			n, err := client.Database("app").Collection("items").CountDocuments(r.Context(), bson.D{})
			if err != nil {
				fail(w, "count", err)
				return
			}
			_, _ = w.Write([]byte("counted\n"))
			_ = n
		}
	}
}
