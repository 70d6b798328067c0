package dataset

import "github.com/kingmaker-ml/kingmaker/config"

// ConvertRow converts one row's feature cells as a scan does (the cells are
// what the driver returns for the model's feature columns, in order); the
// problem is non-empty when the row cannot be used.
func ConvertRow(features []config.Feature, cells []any) (x []float64, problem string) {
	s := &Source{Model: &config.Model{Features: features}}
	return s.converter().features(cells)
}

// ClassIndex and LabelString expose how label and category cells are read.
var (
	ClassIndex  = classIndex
	LabelString = labelString
)
