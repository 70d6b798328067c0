//go:build !xgboost

package trainer

// Without the xgboost tag the package registers no "xgboost" trainer (Algorithms does not list
// it), but Lookup and Decode answer ErrXGBoostNotBuilt for it instead of "unknown algorithm".
func init() {
	unavailable[algXGBoost] = ErrXGBoostNotBuilt
}
