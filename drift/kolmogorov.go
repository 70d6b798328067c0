package drift

import "math"

// This file holds the distribution of the two-sided one-sample
// Kolmogorov-Smirnov statistic D_n, which scipy exposes as scipy.stats.kstwo
// and which ks_2samp uses, with n = round(n1*n2/(n1+n2)), for its asymptotic
// p-value. The choice of algorithm per (n, x) region follows Simard and
// L'Ecuyer (2011), as scipy does, so that both agree to rounding.

const (
	scale128     = 0x1p128  // rescaling factor that keeps long products in range
	unscale128   = 0x1p-128 // its inverse
	cephesMinLog = -7.451332191019412076235e2
	maxSmirnovN  = 1000000 // above this, smirnovSF uses its closed-form approximation
)

// kstwoSF returns Pr(D_n >= x), the survival function of the two-sided
// one-sample Kolmogorov-Smirnov statistic for a sample of size n.
func kstwoSF(x float64, n int) float64 {
	switch {
	case math.IsNaN(x) || n < 1:
		return math.NaN()
	case x <= 0:
		return 1
	case x >= 1:
		return 0
	}
	nf := float64(n)
	t := nf * x
	if t <= 1 { // Ruben and Gambino: exact for 1/2n <= x <= 1/n
		if t <= 0.5 {
			return 1
		}
		var cdf float64
		if n <= 140 {
			cdf = 1
			for i := 1; i <= n; i++ {
				cdf *= float64(i) * (1 / nf) * (2*t - 1)
			}
		} else {
			cdf = math.Exp(logFactorialOverPower(n) + nf*math.Log(2*t-1))
		}
		return clamp01(1 - cdf)
	}
	if t >= nf-1 { // Ruben and Gambino: exact for x >= 1 - 1/n
		return clamp01(2 * math.Pow(1-x, nf))
	}
	if x >= 0.5 { // the two one-sided tails cannot overlap
		return clamp01(2 * smirnovSF(n, x))
	}
	nxx := t * x
	if n <= 140 {
		switch {
		case nxx <= 0.754693:
			return clamp01(1 - kolmogorovDurbin(n, x))
		case nxx <= 4:
			return clamp01(1 - kolmogorovPomeranz(n, x))
		default:
			return clamp01(2 * smirnovSF(n, x))
		}
	}
	if nxx >= 370 {
		return 0
	}
	if nxx >= 2.2 {
		return clamp01(2 * smirnovSF(n, x))
	}
	var cdf float64
	if n <= 100000 && nf*math.Pow(x, 1.5) <= 1.4 {
		cdf = kolmogorovDurbin(n, x)
	} else {
		cdf = kolmogorovPelzGood(n, x)
	}
	return clamp01(1 - cdf)
}

func clamp01(p float64) float64 {
	switch {
	case p < 0:
		return 0
	case p > 1:
		return 1
	}
	return p
}

// logFactorialOverPower returns log(n!/n^n) by Stirling's series.
func logFactorialOverPower(n int) float64 {
	coeffs := [...]float64{
		-2.955065359477124183e-2, 6.4102564102564102564e-3,
		-1.9175269175269175269e-3, 8.4175084175084175084e-4,
		-5.952380952380952381e-4, 7.9365079365079365079e-4,
		-2.7777777777777777778e-3, 8.3333333333333333333e-2,
	}
	nf := float64(n)
	rn := 1 / nf
	z := rn / nf
	poly := 0.0
	for _, c := range coeffs {
		poly = poly*z + c
	}
	return math.Log(nf)/2 - nf + math.Log(2*math.Pi)/2 + rn*poly
}

// kolmogorovDurbin returns Pr(D_n <= d) by Durbin's matrix method in the
// form of Marsaglia, Tsang and Wang (2003): the (k,k) entry of the n-th
// power of an (2k-1)x(2k-1) matrix, with exponents tracked apart so that
// nothing overflows.
func kolmogorovDurbin(n int, d float64) float64 {
	if d >= 1 {
		return 1
	}
	nd := float64(n) * d
	if nd <= 0.5 {
		return 0
	}
	k := int(math.Ceil(nd))
	h := float64(k) - nd
	m := 2*k - 1

	v := make([]float64, m)
	w := make([]float64, m)
	fac := 1.0
	for j := 1; j <= m; j++ {
		w[j-1] = fac
		fac /= float64(j)
		v[j-1] = (1 - math.Pow(h, float64(j))) * fac
	}
	tt := math.Pow(math.Max(2*h-1, 0), float64(m)) - 2*math.Pow(h, float64(m))
	v[m-1] = (1 + tt) * fac

	H := newSquare(m)
	for i := 1; i < m; i++ {
		for r := i - 1; r < m; r++ {
			H.set(r, i, w[r-i+1])
		}
	}
	for r := 0; r < m; r++ {
		H.set(r, 0, v[r])
	}
	for c := 0; c < m; c++ {
		H.set(m-1, c, v[m-1-c])
	}

	pow := identity(m)
	tmp := newSquare(m)
	expnt, hExpnt := 0, 0
	for nn := n; nn > 0; nn /= 2 {
		if nn%2 == 1 {
			tmp.mul(pow, H)
			pow, tmp = tmp, pow
			expnt += hExpnt
		}
		tmp.mul(H, H)
		H, tmp = tmp, H
		hExpnt *= 2
		if math.Abs(H.at(k-1, k-1)) > scale128 {
			for i := range H.a {
				H.a[i] /= scale128
			}
			hExpnt += 128
		}
	}
	p := pow.at(k-1, k-1)
	nf := float64(n)
	for i := 1; i <= n; i++ {
		p = float64(i) * p / nf
		if math.Abs(p) < unscale128 {
			p *= scale128
			expnt -= 128
		}
	}
	if expnt != 0 {
		p = math.Ldexp(p, expnt)
	}
	return clamp01(p)
}

// square is a dense row-major square matrix, enough for Durbin's method.
type square struct {
	n int
	a []float64
}

func newSquare(n int) square { return square{n: n, a: make([]float64, n*n)} }

func identity(n int) square {
	s := newSquare(n)
	for i := 0; i < n; i++ {
		s.a[i*n+i] = 1
	}
	return s
}

func (s square) at(r, c int) float64     { return s.a[r*s.n+c] }
func (s square) set(r, c int, v float64) { s.a[r*s.n+c] = v }

// mul sets s to x*y; s must not share storage with x or y.
func (s square) mul(x, y square) {
	n := s.n
	clear(s.a)
	for i := 0; i < n; i++ {
		row := s.a[i*n : i*n+n]
		for l := 0; l < n; l++ {
			xil := x.a[i*n+l]
			if xil == 0 {
				continue
			}
			yl := y.a[l*n : l*n+n]
			for j := range row {
				row[j] += xil * yl[j]
			}
		}
	}
}

// kolmogorovPomeranz returns Pr(D_n <= x) by Pomeranz's recursion (1974),
// used for n <= 140 where Durbin's matrix would be too large.
func kolmogorovPomeranz(n int, x float64) float64 {
	nf := float64(n)
	t := nf * x
	ll := int(math.Floor(t))
	f := t - float64(ll)
	g := math.Min(f, 1-f)
	ceilf, roundf := 0, 0
	if f > 0 {
		ceilf = 1
	}
	if f > 0.5 {
		roundf = 1
	}
	npwrs := 2 * (ll + 1)
	gpower := make([]float64, npwrs)      // (g/n)^m/m!
	twogpower := make([]float64, npwrs)   // (2g/n)^m/m!
	onem2gpower := make([]float64, npwrs) // ((1-2g)/n)^m/m!
	gpower[0], twogpower[0], onem2gpower[0] = 1, 1, 1
	gn, tgn, omtgn := g/nf, 2*g/nf, (1-2*g)/nf
	for m := 1; m < npwrs; m++ {
		mf := float64(m)
		gpower[m] = gpower[m-1] * gn / mf
		twogpower[m] = twogpower[m-1] * tgn / mf
		onem2gpower[m] = onem2gpower[m-1] * omtgn / mf
	}

	v0 := make([]float64, npwrs)
	v1 := make([]float64, npwrs)
	conv := make([]float64, 2*npwrs)
	v1[0] = 1
	v0s, v1s := 0, 0
	expnt := 0
	j1, j2 := pomeranzBounds(0, n, ll, ceilf, roundf)
	for i := 1; i < 2*n+2; i++ {
		k1 := j1
		v0, v1 = v1, v0
		v0s, v1s = v1s, v0s
		clear(v1)
		j1, j2 = pomeranzBounds(i, n, ll, ceilf, roundf)
		pwrs := onem2gpower
		switch {
		case i == 1 || i == 2*n+1:
			pwrs = gpower
		case i%2 == 1:
			pwrs = twogpower
		}
		ln2 := j2 - k1 + 1
		if ln2 <= 0 {
			continue
		}
		a := sliceClip(v0, k1-v0s, k1-v0s+ln2)
		b := sliceClip(pwrs, 0, ln2)
		c := conv[:len(a)+len(b)-1]
		clear(c)
		for ia, av := range a {
			for ib, bv := range b {
				c[ia+ib] += av * bv
			}
		}
		start, length := j1-k1, j2-j1+1
		copy(v1[:length], c[start:start+length])
		top := v1[0]
		for _, e := range v1 {
			top = math.Max(top, e)
		}
		if top > 0 && top < unscale128 {
			for j := range v1 {
				v1[j] *= scale128
			}
			expnt -= 128
		}
		v1s = v0s + j1 - k1
	}
	ans := v1[n-v1s]
	for m := 1; m <= n; m++ {
		if math.Abs(ans) > scale128 {
			ans *= unscale128
			expnt += 128
		}
		ans *= float64(m)
	}
	if expnt != 0 {
		ans = math.Ldexp(ans, expnt)
	}
	return clamp01(ans)
}

// sliceClip is s[lo:hi] with hi clipped to len(s), as numpy slicing does.
func sliceClip(s []float64, lo, hi int) []float64 {
	hi = min(hi, len(s))
	lo = min(lo, hi)
	return s[lo:hi]
}

// pomeranzBounds returns the range of columns that are non-zero in row i of
// Pomeranz's recursion.
func pomeranzBounds(i, n, ll, ceilf, roundf int) (int, int) {
	var j1, j2 int
	if i == 0 {
		j1, j2 = -ll-ceilf-1, ll+ceilf-1
	} else {
		half, odd := (i+1)/2, (i+1)%2 == 0
		switch {
		case odd && half == n+1:
			j1, j2 = n-ll-ceilf-1, n+ll+ceilf-1
		case odd:
			j1, j2 = half-1-ll-roundf-1, half+ll-1+ceilf-1
		default:
			j1, j2 = half-1-ll-1, half+ll+roundf-1
		}
	}
	return max(j1+2, 0), min(j2, n)
}

// kolmogorovPelzGood returns the Pelz-Good (1976) approximation of
// Pr(D_n <= x), the Li-Chien/Korolyuk expansion in powers of 1/sqrt(n)
// rewritten with Jacobi theta functions so that it converges for small
// z = x*sqrt(n).
func kolmogorovPelzGood(n int, x float64) float64 {
	if x <= 0 {
		return 0
	}
	if x >= 1 {
		return 1
	}
	const (
		pi2 = math.Pi * math.Pi
		pi4 = pi2 * pi2
		pi6 = pi4 * pi2
	)
	sqrt2pi := math.Sqrt(2 * math.Pi)
	nf := float64(n)
	z := math.Sqrt(nf) * x
	z2, z3, z4, z6 := z*z, z*z*z, math.Pow(z, 4), math.Pow(z, 6)

	qlog := -pi2 / 8 / z2
	if qlog < -708 {
		return 0
	}
	q := math.Exp(qlog)

	k1a, k1b := -z2, pi2/4
	k2a := 6*z6 + 2*z4
	k2b := (2*z4 - 5*z2) * pi2 / 4
	k2c := pi4 * (1 - 2*z2) / 16
	k3d := pi6 * (5 - 30*z2) / 64
	k3c := pi4 * (-60*z2 + 212*z4) / 16
	k3b := pi2 * (135*z4 - 96*z6) / 4
	k3a := -30*z6 - 90*math.Pow(z, 8)

	var K [4]float64
	maxk := int(math.Ceil(16 * z / math.Pi))
	for k := maxk; k > 0; k-- {
		m := float64(2*k - 1)
		m2 := m * m
		m4, m6 := m2*m2, m2*m2*m2
		qp := math.Pow(q, float64(8*k))
		coeffs := [4]float64{
			1,
			k1a + k1b*m2,
			k2a + k2b*m2 + k2c*m4,
			k3a + k3b*m2 + k3c*m4 + k3d*m6,
		}
		for i := range K {
			K[i] = K[i]*qp + coeffs[i]
		}
	}
	div := [4]float64{z, 6 * z4, 72 * math.Pow(z, 7), 6480 * math.Pow(z, 10)}
	for i := range K {
		K[i] = K[i] * q * sqrt2pi / div[i]
	}

	q = math.Exp(-pi2 / 2 / z2)
	sqrt3z := math.Sqrt(3) * z
	var k2extra, k3extra float64
	for k := maxk; k > 0; k-- {
		kf := float64(k)
		qk := math.Pow(q, kf*kf)
		k2extra += kf * kf * qk
		kpi := math.Pi * kf
		k3extra += (sqrt3z + kpi) * (sqrt3z - kpi) * kf * kf * qk
	}
	K[2] += k2extra * pi2 * sqrt2pi / (-36 * z3)
	K[3] += k3extra * pi2 * sqrt2pi / (216 * z6)
	sum := 0.0
	for i := range K {
		sum += K[i] / math.Pow(nf, float64(i)/2)
	}
	return sum
}

// smirnovSF returns Pr(D+_n >= x), the survival function of the one-sided
// Kolmogorov-Smirnov statistic (scipy.special.smirnov), by the
// Birnbaum-Tingey sum
//
//	x * sum_{v=0}^{floor(n(1-x))} C(n,v) (x+v/n)^(v-1) (1-x-v/n)^(n-v).
//
// Every term is a binomial probability divided by x+v/n, and is computed
// with Loader's saddle-point form, so the sum keeps full relative precision
// even for tiny tails.
func smirnovSF(n int, x float64) float64 {
	switch {
	case math.IsNaN(x) || n < 1 || x < 0 || x > 1:
		return math.NaN()
	case n == 1:
		return 1 - x
	case x == 0:
		return 1
	case x == 1:
		return 0
	}
	nf := float64(n)
	nxfl, alpha := floorFrac(nf, x)
	if nxfl == 0 || (nxfl == 1 && alpha == 0) { // x <= 1/n
		return 1 - x*math.Pow(1+x, nf-1)
	}
	if -2*nf*x*x < cephesMinLog {
		return 0
	}
	if nxfl >= n-1 { // x >= 1 - 1/n
		return math.Pow(1-x, nf)
	}
	if n > maxSmirnovN {
		logp := -math.Pow(6*nf*x+1, 2) / 18 / nf
		if logp < -math.Ln2 {
			return math.Exp(logp)
		}
		return 1 + math.Expm1(logp)
	}
	// The last term, v = n - nxfl, is zero (or beyond the range) either way.
	last := n - nxfl - 1
	terms := last + 1
	sum := 0.0
	for v := 0; v <= last; v++ {
		vf := float64(v)
		a := x + vf/nf
		b := (nf-vf)/nf - x
		term := binomialPMF(v, n, a, b) / a
		sum += term
		// Stop once what is left cannot change the sum (as scipy does).
		if term != 0 && v != last && 4*float64(terms-v)*term < epsilon*sum {
			break
		}
	}
	return clamp01(x * sum)
}

const epsilon = 0x1p-52 // float64 machine epsilon

// floorFrac returns floor(n*x) and the fractional part of the exact product.
func floorFrac(n, x float64) (int, float64) {
	p := n * x
	e := math.FMA(n, x, -p) // n*x == p + e exactly
	fl := math.Floor(p)
	alpha := (p - fl) + e
	if alpha < 0 {
		fl--
		alpha++
	}
	if alpha >= 1 {
		fl++
		alpha = 0
	}
	return int(fl), alpha
}

// binomialPMF returns C(n,k) p^k q^(n-k) with q = 1-p given separately, by
// Loader's (2000) saddle-point expansion.
func binomialPMF(k, n int, p, q float64) float64 {
	nf, kf := float64(n), float64(k)
	if p == 0 {
		if k == 0 {
			return 1
		}
		return 0
	}
	if q == 0 {
		if k == n {
			return 1
		}
		return 0
	}
	if k == 0 {
		if p < 0.1 {
			return math.Exp(-deviance(nf, nf*q) - nf*p)
		}
		return math.Exp(nf * math.Log(q))
	}
	if k == n {
		if q < 0.1 {
			return math.Exp(-deviance(nf, nf*p) - nf*q)
		}
		return math.Exp(nf * math.Log(p))
	}
	lc := stirlingError(nf) - stirlingError(kf) - stirlingError(nf-kf) -
		deviance(kf, nf*p) - deviance(nf-kf, nf*q)
	lf := math.Log(2*math.Pi) + math.Log(kf) + math.Log1p(-kf/nf)
	return math.Exp(lc - 0.5*lf)
}

// stirlingError returns log(n!) - log(sqrt(2 pi n) (n/e)^n) for integer n >= 1.
func stirlingError(n float64) float64 {
	const (
		s0 = 1.0 / 12
		s1 = 1.0 / 360
		s2 = 1.0 / 1260
		s3 = 1.0 / 1680
		s4 = 1.0 / 1188
	)
	if n <= 15 {
		lg, _ := math.Lgamma(n + 1)
		return lg - (n+0.5)*math.Log(n) + n - 0.5*math.Log(2*math.Pi)
	}
	nn := n * n
	switch {
	case n > 500:
		return (s0 - s1/nn) / n
	case n > 80:
		return (s0 - (s1-s2/nn)/nn) / n
	case n > 35:
		return (s0 - (s1-(s2-s3/nn)/nn)/nn) / n
	}
	return (s0 - (s1-(s2-(s3-s4/nn)/nn)/nn)/nn) / n
}

// deviance returns x log(x/np) + np - x, by a series when x is close to np
// where the direct form would cancel.
func deviance(x, np float64) float64 {
	if math.Abs(x-np) < 0.1*(x+np) {
		v := (x - np) / (x + np)
		s := (x - np) * v
		ej := 2 * x * v
		v *= v
		for j := 1; j < 1000; j++ {
			ej *= v
			s1 := s + ej/float64(2*j+1)
			if s1 == s {
				return s1
			}
			s = s1
		}
		return s
	}
	return x*math.Log(x/np) + np - x
}
