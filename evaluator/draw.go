package evaluator

import "math/bits"

// pcgStep advances math/rand/v2's PCG by one step and returns its new
// state and the output of that step: rand.PCG's next and Uint64 (a 128-bit
// LCG, then the DXSM output function) over a state the caller keeps in
// locals, so that a loop of draws keeps it in registers instead of
// loading and storing a *rand.PCG on every call. TestPCGStepIsRandPCG holds
// it to rand.PCG.
func pcgStep(hi, lo uint64) (nhi, nlo, out uint64) {
	const (
		mulHi    = 2549297995355413924
		mulLo    = 4865540595714422341
		incHi    = 6364136223846793005
		incLo    = 1442695040888963407
		cheapMul = 0xda942042e4dd58b5
	)
	nhi, nlo = bits.Mul64(lo, mulLo)
	nhi += hi*mulLo + lo*mulHi
	nlo, c := bits.Add64(nlo, incLo, 0)
	nhi, _ = bits.Add64(nhi, incHi, c)
	out = nhi
	out ^= out >> 32
	out *= cheapMul
	out ^= out >> 48
	out *= nlo | 1
	return nhi, nlo, out
}

// drawCounts adds to w the n = len(w) draws of resample stream from
// PCG(seed, stream): w[i] counts how often row i was drawn. The row
// indices are rand.New(rand.NewPCG(seed, stream)).IntN(n), n times, as
// drawIndex computes them. It says whether some count wrapped around (a
// byte count of a row drawn 256 times).
func drawCounts[W rowWeight](w []W, seed, stream uint64) (wrapped bool) {
	n := uint64(len(w))
	hi, lo := seed, stream
	if n&(n-1) == 0 {
		mask := n - 1
		var u uint64
		for range n {
			hi, lo, u = pcgStep(hi, lo)
			c := w[u&mask] + 1
			w[u&mask] = c
			if c == 0 {
				wrapped = true
			}
		}
		return wrapped
	}
	var u, k, frac uint64
	for range n {
		// nextIndex, written out: the compiler finds it too big to inline.
		hi, lo, u = pcgStep(hi, lo)
		k, frac = bits.Mul64(u, n)
		if frac < n {
			k, hi, lo = lemireRetry(hi, lo, k, frac, n)
		}
		c := w[k] + 1
		w[k] = c
		if c == 0 {
			wrapped = true
		}
	}
	return wrapped
}

// nextIndex draws a row index below n, n not a power of two, from the
// generator at state (hi, lo) and returns it with the new state: Lemire's
// multiply-and-reject, as drawIndex and math/rand/v2's IntN.
func nextIndex(hi, lo, n uint64) (k, nhi, nlo uint64) {
	var u, frac uint64
	hi, lo, u = pcgStep(hi, lo)
	k, frac = bits.Mul64(u, n)
	if frac < n {
		return lemireRetry(hi, lo, k, frac, n)
	}
	return k, hi, lo
}

// lemireRetry finishes nextIndex in the rare case (a chance of n/2^64)
// that the draw may have to be rejected: it draws again while the low
// word is below 2^64 mod n.
func lemireRetry(hi, lo, k, frac, n uint64) (uint64, uint64, uint64) {
	thresh := -n % n
	for frac < thresh {
		var u uint64
		hi, lo, u = pcgStep(hi, lo)
		k, frac = bits.Mul64(u, n)
	}
	return k, hi, lo
}

// aucCounts is the pair count of weightedAUC for the draw counts w of a
// resample, which add up to total, from the layout rows.ranked and
// rows.ties: twice the Mann-Whitney U and the weights of the two classes.
// The sums are the same integers weightedAUC adds, grouped differently, so
// the AUC computed from them is the same float.
//
// In a group of equal scores weightedAUC adds gPos*(2*negBelow + gNeg)
// at its end. A row whose score no other row shares is a group of its own:
// of class 1 it adds 2*w*negBelow, of class 0 nothing (gPos = 0), and only
// moves negBelow up by w. The pass between the runs of ties does that
// without a branch on the class (the weight is masked by it), which keeps
// the processor's queue of loads from w, scattered in row order, full. The
// weight of class 1 is what the weight of class 0 leaves of the total.
func aucCounts[W rowWeight](r *rows, w []W, total int64) (twiceU, pos, neg int64) {
	var halfU, negBelow int64
	j := 0
	for t := 0; t < len(r.ties); t += 2 {
		start, end := int(r.ties[t]), int(r.ties[t+1])
		halfU, negBelow = distinctScores(r.ranked[j:start], w, halfU, negBelow)
		var gPos, gAll int64
		for _, e := range r.ranked[start:end] {
			wi := int64(w[e>>1])
			gPos += wi & -int64(e&1)
			gAll += wi
		}
		gNeg := gAll - gPos
		twiceU += gPos * (2*negBelow + gNeg)
		negBelow += gNeg
		j = end
	}
	halfU, negBelow = distinctScores(r.ranked[j:], w, halfU, negBelow)
	return twiceU + 2*halfU, total - negBelow, negBelow
}

// distinctScores is aucCounts over rows whose scores no other row shares,
// four rows a step: the loop's own instructions, a quarter as many, leave
// room for more loads from w in flight.
func distinctScores[W rowWeight](ranked []uint32, w []W, halfU, negBelow int64) (int64, int64) {
	j := 0
	for ; j+4 <= len(ranked); j += 4 {
		q := ranked[j : j+4 : j+4]
		w0 := int64(w[q[0]>>1])
		p0 := w0 & -int64(q[0]&1)
		halfU += p0 * negBelow
		negBelow += w0 - p0
		w1 := int64(w[q[1]>>1])
		p1 := w1 & -int64(q[1]&1)
		halfU += p1 * negBelow
		negBelow += w1 - p1
		w2 := int64(w[q[2]>>1])
		p2 := w2 & -int64(q[2]&1)
		halfU += p2 * negBelow
		negBelow += w2 - p2
		w3 := int64(w[q[3]>>1])
		p3 := w3 & -int64(q[3]&1)
		halfU += p3 * negBelow
		negBelow += w3 - p3
	}
	for _, e := range ranked[j:] {
		wi := int64(w[e>>1])
		pw := wi & -int64(e&1)
		halfU += pw * negBelow
		negBelow += wi - pw
	}
	return halfU, negBelow
}

// resampleAUC is the AUC of rows r on a resample with draw counts w, the
// float weightedAUC(r, w) returns. The counts add up to the rows, r.n: a
// resample draws n rows.
func resampleAUC[W rowWeight](r *rows, w []W) (float64, bool) {
	twiceU, pos, neg := aucCounts(r, w, int64(r.n))
	if pos == 0 || neg == 0 {
		return 0, false
	}
	return float64(twiceU) / (2 * float64(pos) * float64(neg)), true
}
