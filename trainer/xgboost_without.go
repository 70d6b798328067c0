//go:build !xgboost

package trainer

import "fmt"

// Without the xgboost tag the package registers no "xgboost" trainer (Algorithms does not list
// it), but Lookup and Decode answer ErrXGBoostNotBuilt for it instead of "unknown algorithm".
func init() {
	unavailable[algXGBoost] = ErrXGBoostNotBuilt
}

// loadXGBoostFile refuses: loading a model file needs libxgboost.
func loadXGBoostFile(s Schema, info *FileInfo, raw []byte) (Model, error) {
	return nil, fmt.Errorf("model file of xgboost %s: %w", info.ProducerVersion, ErrXGBoostNotBuilt)
}
