package trainer

// What every build knows of "xgboost", with or without the library: its name and the error a
// build without it gives. The algorithm itself is in xgboost.go (build tag xgboost, cgo,
// libxgboost); xgboost_without.go makes a build without the tag name the missing support
// instead of calling the algorithm unknown.

const algXGBoost = "xgboost"

// ErrXGBoostNotBuilt is returned by Lookup("xgboost") and, wrapped, by Decode of an xgboost
// artifact in a build without the xgboost build tag. It also matches ErrUnknownAlgorithm, so
// callers that treat an unknown algorithm as a permanent error do the same here.
var ErrXGBoostNotBuilt error = &notBuiltError{
	msg: algXGBoost + ": this kingmaker was built without XGBoost support: install libxgboost-dev and build with -tags xgboost",
}

// notBuiltError is an algorithm this package has but this build left out.
type notBuiltError struct{ msg string }

func (e *notBuiltError) Error() string { return e.msg }

// Is reports whether target is ErrUnknownAlgorithm.
func (e *notBuiltError) Is(target error) bool { return target == ErrUnknownAlgorithm }
