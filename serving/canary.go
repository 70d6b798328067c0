package serving

import (
	"hash/fnv"
	"net/http"
)

// HeaderCanary is set to "true" on a response the previous champion gave
// as the canary of a probation; X-Kingmaker-Version then names it.
const HeaderCanary = "X-Kingmaker-Canary"

// canaryAnswer is the snapshot that answers a request: the champion, or,
// while a probation shadows the previous champion with a canary share
// (policy.probation.canary_fraction), the previous champion for requests
// whose key hashes into that share. The key is the first row's id, else
// the request id the client gave; a request with neither is the
// champion's. The split is stable: the same key goes to the same version
// on every server and every request. The response headers are set to the
// version that answers.
func (s *Server) canaryAnswer(w http.ResponseWriter, m *model, champ *snapshot, ids []string, requestID string) *snapshot {
	sh := m.shadow.Load()
	if sh == nil || sh.canary <= 0 {
		return champ
	}
	key := requestID
	if len(ids) > 0 && ids[0] != "" {
		key = ids[0]
	}
	if key == "" || !InCanary(key, sh.canary) {
		return champ
	}
	answer := &snapshot{model: sh.model, version: sh.version, versionStr: sh.versionStr, generation: champ.generation, genStr: champ.genStr,
		algorithm: sh.model.Algorithm(), answers: sh.answers}
	nameChampion(w, answer)
	w.Header().Set(HeaderCanary, "true")
	return answer
}

// InCanary reports whether key falls in the canary share fraction: the
// FNV-1a 64-bit hash of the key, as a number in [0, 1), is below it.
func InCanary(key string, fraction float64) bool {
	h := fnv.New64a()
	h.Write([]byte(key))
	return float64(h.Sum64()>>11)/(1<<53) < fraction
}
