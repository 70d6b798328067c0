package dataset

import (
	"errors"

	"github.com/gocql/gocql"

	"github.com/kingmaker-ml/kingmaker/config"
)

// ConvertRow decodes one row's feature cells from the bytes Cassandra sends
// for them (nil for null) and converts them as a scan does; err is a cell
// the driver's bytes cannot be decoded as, problem a row that cannot be used.
func ConvertRow(features []config.Feature, types []gocql.TypeInfo, data [][]byte) (x []float64, problem string, err error) {
	cells, err := decodeCells(types, data)
	if err != nil {
		return nil, "", err
	}
	s := &Source{Model: &config.Model{Features: features}}
	x = make([]float64, len(features))
	var text []byte
	if problem = s.converter().features(x, cells, &text); problem != "" {
		return nil, problem, nil
	}
	return x, "", nil
}

// CellText decodes one cell and renders it as a scan does for keys, labels
// and categories.
func CellText(info gocql.TypeInfo, data []byte) (string, error) {
	cells, err := decodeCells([]gocql.TypeInfo{info}, [][]byte{data})
	if err != nil {
		return "", err
	}
	return string(cells[0].appendText(nil)), nil
}

func decodeCells(types []gocql.TypeInfo, data [][]byte) ([]cell, error) {
	cells := make([]cell, len(types))
	for i := range cells {
		if err := cells[i].UnmarshalCQL(types[i], data[i]); err != nil {
			return nil, err
		}
		if cells[i].bad != "" {
			return nil, errors.New(cells[i].bad)
		}
	}
	return cells, nil
}

// ClassIndex and LabelString expose how label and category cells are read.
var (
	ClassIndex  = classIndex
	LabelString = labelString
)

// CellFloat is how a decoded value of a type the scan does not decode
// itself becomes a number.
var CellFloat = cellFloat
