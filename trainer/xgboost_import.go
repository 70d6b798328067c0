//go:build xgboost

package trainer

import (
	"strconv"
	"strings"
)

// loadXGBoostFile loads a checked model file into a booster of this build's libxgboost and wraps it
// as an "xgboost" model of schema s. The artifact keeps the file's bytes as they are, so the
// version's artifact holds exactly what the producer wrote.
func loadXGBoostFile(s Schema, info *FileInfo, raw []byte) (Model, error) {
	if err := supportedProducer(info.ProducerVersion); err != nil {
		return nil, err
	}
	p := xgboostParams.defaults()
	p["n_estimators"] = float64(info.Rounds)
	var present []int
	if s.task() != Regression {
		for c := range s.Classes {
			present = append(present, c)
		}
	}
	m, err := newXGBoostModel(s, p, present, raw)
	if err != nil {
		return nil, fileErrorf("libxgboost %s cannot use the file of xgboost %s: %v", XGBoostVersion(), info.ProducerVersion, err)
	}
	return m, nil
}

// supportedProducer refuses files of an xgboost this build's libxgboost cannot read correctly.
// Measured with Debian's libxgboost 1.7.4 (TestImportXGBoostProducerVersions): files of Python
// xgboost 1.7.6 and 2.1.4, JSON and UBJ, load and predict as their producer did; files of 3.x load
// without error but predict wrongly (3.0 writes base_score as a vector, "[2.92E-1]", which 1.7
// misreads), so they are refused by version before libxgboost sees them. A build linked against a
// libxgboost of major version 3 or later reads producers up to its own major version.
func supportedProducer(v string) error {
	lib := XGBoostVersion()
	newest := max(2, majorOf(lib))
	if p := majorOf(v); p < 1 || p > newest {
		return fileErrorf("the file was written by xgboost %s; this kingmaker's libxgboost %s reads files of xgboost 1.x to %d.x: save the model with xgboost<%d, or link a libxgboost %d.x",
			v, lib, newest, newest+1, majorOf(v))
	}
	return nil
}

// majorOf returns the major version of "major.minor.patch", 0 when it has none.
func majorOf(v string) int {
	major, _, _ := strings.Cut(v, ".")
	n, _ := strconv.Atoi(major)
	return n
}
