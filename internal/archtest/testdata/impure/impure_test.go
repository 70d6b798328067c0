package impure

import "github.com/kingmaker-ml/kingmaker/internal/testenv"

var _ = testenv.ExampleConfig
