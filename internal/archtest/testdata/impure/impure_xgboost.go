//go:build never

package impure

import _ "github.com/kingmaker-ml/kingmaker/registry"
