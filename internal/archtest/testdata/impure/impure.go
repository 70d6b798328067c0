// Package impure imports a package of the module, which a pure package must
// not: the import-rule test checks that it catches this.
package impure

import (
	"fmt"

	"github.com/kingmaker-ml/kingmaker/config"
	"github.com/kingmaker-ml/kingmakerish/other"
)

var _ = fmt.Sprint(config.Config{}, other.X)
