// Command mongoclient is the compatibility matrix's MongoDB client: with the
// official Go driver it inserts documents into a fresh collection over the
// MongoDB wire protocol, queries them back (a filter, a sort, a count, an
// aggregation, an update) and checks every answer. It prints "OK …" and
// exits 0 only when all match.
package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"flag"
	"fmt"
	"os"
	"time"

	"go.mongodb.org/mongo-driver/bson"
	"go.mongodb.org/mongo-driver/mongo"
	"go.mongodb.org/mongo-driver/mongo/options"
)

func main() {
	uri := flag.String("uri", "", "mongodb://host:port/")
	coll := flag.String("coll", "items", "collection name (fresh per run)")
	n := flag.Int("n", 500, "documents to insert")
	probe := flag.Bool("probe", false, "only ping the server")
	flag.Parse()
	if err := run(*uri, *coll, *n, *probe); err != nil {
		fmt.Fprintln(os.Stderr, "mongoclient:", err)
		os.Exit(1)
	}
}

func run(uri, coll string, n int, probe bool) error {
	timeout := 60 * time.Second
	if probe {
		timeout = 3 * time.Second
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cl, err := mongo.Connect(ctx, options.Client().ApplyURI(uri).SetServerSelectionTimeout(timeout))
	if err != nil {
		return fmt.Errorf("connect %s: %w", uri, err)
	}
	defer cl.Disconnect(context.Background())
	if err := cl.Ping(ctx, nil); err != nil {
		return fmt.Errorf("ping %s: %w", uri, err)
	}
	if probe {
		return nil
	}
	c := cl.Database("ztnc").Collection(coll)
	docs := make([]any, n)
	for i := range docs {
		docs[i] = bson.D{{Key: "_id", Value: i}, {Key: "name", Value: fmt.Sprintf("item-%04d", i)},
			{Key: "even", Value: i%2 == 0}, {Key: "payload", Value: payload(i)}}
	}
	res, err := c.InsertMany(ctx, docs)
	if err != nil {
		return fmt.Errorf("insert: %w", err)
	}
	if len(res.InsertedIDs) != n {
		return fmt.Errorf("inserted %d documents, want %d", len(res.InsertedIDs), n)
	}
	count, err := c.CountDocuments(ctx, bson.D{{Key: "even", Value: true}})
	if err != nil {
		return fmt.Errorf("count: %w", err)
	}
	if want := int64((n + 1) / 2); count != want {
		return fmt.Errorf("%d even documents, want %d", count, want)
	}
	// Every document back, in descending order, with its payload intact.
	cur, err := c.Find(ctx, bson.D{}, options.Find().SetSort(bson.D{{Key: "_id", Value: -1}}))
	if err != nil {
		return fmt.Errorf("find: %w", err)
	}
	var got []struct {
		ID      int    `bson:"_id"`
		Name    string `bson:"name"`
		Payload string `bson:"payload"`
	}
	if err := cur.All(ctx, &got); err != nil {
		return fmt.Errorf("reading the cursor: %w", err)
	}
	if len(got) != n {
		return fmt.Errorf("find returned %d documents, want %d", len(got), n)
	}
	for k, d := range got {
		i := n - 1 - k
		if d.ID != i || d.Name != fmt.Sprintf("item-%04d", i) || d.Payload != payload(i) {
			return fmt.Errorf("document %d: got _id %d name %q, want %d item-%04d with its payload", k, d.ID, d.Name, i, i)
		}
	}
	up, err := c.UpdateOne(ctx, bson.D{{Key: "_id", Value: 7}}, bson.D{{Key: "$set", Value: bson.D{{Key: "name", Value: "seven"}}}})
	if err != nil || up.ModifiedCount != 1 {
		return fmt.Errorf("update: %v (modified %v)", err, up)
	}
	var one struct{ Name string }
	if err := c.FindOne(ctx, bson.D{{Key: "_id", Value: 7}}).Decode(&one); err != nil || one.Name != "seven" {
		return fmt.Errorf("findOne after update: %v, name %q", err, one.Name)
	}
	del, err := c.DeleteMany(ctx, bson.D{{Key: "even", Value: false}})
	if err != nil || del.DeletedCount != int64(n/2) {
		return fmt.Errorf("deleteMany: %v (deleted %v, want %d)", err, del, n/2)
	}
	left, err := c.EstimatedDocumentCount(ctx)
	if err != nil || left != int64((n+1)/2) {
		return fmt.Errorf("count after delete: %v, %d, want %d", err, left, (n+1)/2)
	}
	fmt.Printf("OK inserted %d, found %d in order, %d even, updated 1, deleted %d, %d left\n", n, len(got), count, del.DeletedCount, left)
	return nil
}

// payload is 2 KiB of text derived from i, so a corrupted byte anywhere in a
// document shows.
func payload(i int) string {
	h := sha256.Sum256([]byte(fmt.Sprint("ztnc-", i)))
	s := hex.EncodeToString(h[:])
	for len(s) < 2048 {
		s += s
	}
	return s[:2048]
}
