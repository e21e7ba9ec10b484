package main

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"go.mongodb.org/mongo-driver/bson"
	"go.mongodb.org/mongo-driver/event"
	"go.mongodb.org/mongo-driver/mongo"
	"go.mongodb.org/mongo-driver/mongo/options"
)

// v1Handler: insert, the same insert again (a duplicate key: a write error in an ok:1 reply),
// insert of three more, a find read in batches of one (find, then getMore), update, delete,
// aggregate, a ping without the request's context and a command the server does not know.
func v1Handler(uri string) http.HandlerFunc {
	var client *mongo.Client
	if uri != "" {
		own := &event.CommandMonitor{
			Started: func(context.Context, *event.CommandStartedEvent) { started.Add(1) },
		}
		var err error
		// two options values: the program's monitor in the first, the URI in the second
		client, err = mongo.Connect(context.Background(),
			options.Client().SetMonitor(own).SetServerSelectionTimeout(20*time.Second),
			options.Client().ApplyURI(uri))
		if err != nil {
			panic(err)
		}
	}
	return func(w http.ResponseWriter, r *http.Request) {
		if client == nil {
			http.Error(w, "MONGO_URI not set", http.StatusServiceUnavailable)
			return
		}
		ctx := r.Context()
		before := started.Load()
		coll := client.Database("app").Collection("items")
		id := newID("v1")
		if _, err := coll.InsertOne(ctx, bson.D{{Key: "_id", Value: id}, {Key: "name", Value: "secret-alpha"}}); err != nil {
			fail(w, "insert", err)
			return
		}
		_, dupErr := coll.InsertOne(ctx, bson.D{{Key: "_id", Value: id}})
		if !mongo.IsDuplicateKeyError(dupErr) {
			fail(w, "duplicate insert", fmt.Errorf("want a duplicate key error, got %v", dupErr))
			return
		}
		group := newID("v1g")
		docs := []interface{}{
			bson.D{{Key: "g", Value: group}, {Key: "n", Value: 1}},
			bson.D{{Key: "g", Value: group}, {Key: "n", Value: 2}},
			bson.D{{Key: "g", Value: group}, {Key: "n", Value: 3}},
		}
		if _, err := coll.InsertMany(ctx, docs); err != nil {
			fail(w, "insert many", err)
			return
		}
		cur, err := coll.Find(ctx, bson.D{{Key: "g", Value: group}}, options.Find().SetBatchSize(1))
		if err != nil {
			fail(w, "find", err)
			return
		}
		var found []bson.M
		if err := cur.All(ctx, &found); err != nil {
			fail(w, "cursor", err)
			return
		}
		if _, err := coll.UpdateOne(ctx, bson.D{{Key: "_id", Value: id}},
			bson.D{{Key: "$set", Value: bson.D{{Key: "name", Value: "beta"}}}}); err != nil {
			fail(w, "update", err)
			return
		}
		if _, err := coll.DeleteOne(ctx, bson.D{{Key: "_id", Value: id}}); err != nil {
			fail(w, "delete", err)
			return
		}
		agg, err := coll.Aggregate(ctx, mongo.Pipeline{
			{{Key: "$match", Value: bson.D{{Key: "g", Value: group}}}},
			{{Key: "$count", Value: "n"}},
		})
		if err != nil {
			fail(w, "aggregate", err)
			return
		}
		var counted []bson.M
		if err := agg.All(ctx, &counted); err != nil {
			fail(w, "aggregate cursor", err)
			return
		}
		// no context: the span's parent is the request's, found in the goroutine
		if err := client.Ping(context.Background(), nil); err != nil {
			fail(w, "ping", err)
			return
		}
		unknown := client.Database("app").RunCommand(ctx, bson.D{{Key: "noSuchCommand", Value: 1}}).Err()
		var ce mongo.CommandError
		if !errors.As(unknown, &ce) {
			fail(w, "unknown command", fmt.Errorf("want a command error, got %v", unknown))
			return
		}
		fmt.Fprintf(w, "found=%d counted=%v unknown=%d monitor=%d\n",
			len(found), counted, ce.Code, started.Load()-before)
	}
}
