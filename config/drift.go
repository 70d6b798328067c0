package config

import "github.com/kingmaker-ml/kingmaker/drift"

// EffectFloor returns the effect-size floor of the model's drift alarm:
// drift.min_psi_excess, or the drift package's default when it is nil (a
// spec recorded before the setting existed).
func (d Drift) EffectFloor() float64 {
	if d.MinPSIExcess == nil {
		return drift.DefaultMinPSIExcess
	}
	return *d.MinPSIExcess
}

// ReportOptions returns the options of the model's drift reports; zero
// fields take the drift package's defaults.
func (d Drift) ReportOptions() drift.ReportOptions {
	floor := d.EffectFloor()
	return drift.ReportOptions{MinRows: int64(d.MinRows), ModeratePSI: d.PSIModerate, MajorPSI: d.PSIMajor,
		MinPSIExcess: &floor, FalseAlarmRate: d.FalseAlarmRate}
}
