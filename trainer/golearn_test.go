package trainer

import (
	"context"
	"io"
	"os"
	"strconv"
	"testing"

	"github.com/sjwhitworth/golearn/base"
	"github.com/sjwhitworth/golearn/trees"
)

// TestTheConvertedTreePredictsLikeGolearnsTree grows a tree with golearn, converts it, and checks
// that the package's tree walk gives golearn's own Predict answer on every training row (where
// golearn has a child for every value it meets, so its map-order fallback does not apply), except
// at leaves whose classes tie (golearn then picks in map order, the package the lowest id).
func TestTheConvertedTreePredictsLikeGolearnsTree(t *testing.T) {
	d := train2
	s := d.Schema
	b := newBinner(s, d.X, 10)
	slots := make([][]int, len(d.X))
	rows := make([]int, len(d.X))
	for i, row := range d.X {
		rows[i] = i
		slots[i] = make([]int, len(s.Features))
		for j, v := range row {
			slots[i][j] = b.slot(j, v)
		}
	}
	g := newGrid(s, b)
	inst, err := g.instances(slots, d.Y, rows)
	if err != nil {
		t.Fatal(err)
	}
	chooser := &splitChooser{ctx: context.Background(), row: g.row, class: g.class, classes: len(s.Classes), minSplit: 2}
	root := trees.InferID3Tree(inst, chooser)
	ours, err := g.convert(root, s, b)
	if err != nil {
		t.Fatal(err)
	}
	pred, err := root.Predict(inst)
	if err != nil {
		t.Fatal(err)
	}
	checked := 0
	for i := range rows {
		want, _ := strconv.Atoi(base.GetClass(pred, i))
		leaf := ours.walk(slots[i])
		if leaf.counts[0] == leaf.counts[1] {
			continue
		}
		checked++
		if leaf.class != want {
			t.Fatalf("row %d: converted tree predicts %d, golearn %d", i, leaf.class, want)
		}
	}
	if checked < len(rows)*9/10 {
		t.Errorf("only %d of %d rows checked", checked, len(rows))
	}
	if len(ours.nodes) < 10 {
		t.Errorf("tree has %d nodes; the test data should grow a real tree", len(ours.nodes))
	}
}

// TestNothingIsWrittenToStdout guards against golearn's prints (ID3DecisionTree.Save, the KNN
// progress line) reaching the worker's or the CLI's output.
func TestNothingIsWrittenToStdout(t *testing.T) {
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	saved := os.Stdout
	os.Stdout = w
	defer func() { os.Stdout = saved }()
	done := make(chan []byte)
	go func() {
		b, _ := io.ReadAll(r)
		done <- b
	}()
	d := synthetic(300, 8, 2)
	runs := []struct {
		algorithm string
		params    Params
	}{{"id3", Params{"prune": 1}}}
	for _, alg := range classifiers() {
		runs = append(runs, struct {
			algorithm string
			params    Params
		}{alg, fastParams[alg]})
	}
	for _, run := range runs {
		tr, _ := Lookup(run.algorithm)
		m, err := tr.Train(context.Background(), d, run.params)
		if err != nil {
			t.Errorf("%s: %v", run.algorithm, err)
			continue
		}
		b, _ := m.MarshalBinary()
		r, err := Decode(b)
		if err != nil {
			t.Errorf("%s: %v", run.algorithm, err)
			continue
		}
		if _, _, err := r.Predict(d.X); err != nil {
			t.Errorf("%s: %v", run.algorithm, err)
		}
	}
	os.Stdout = saved
	w.Close()
	if out := <-done; len(out) > 0 {
		t.Errorf("training, encoding, decoding and predicting wrote %d bytes to stdout: %q", len(out), out)
	}
}
