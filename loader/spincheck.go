package loader

// preflight runs the spin-lock check before Load (see Options.SpinLockCheck).
// The caller holds o.mu for writing.
func (o *Object) preflight() error {
	return nil
}

// ruleForVerifierLog names the spin-lock rule a verifier log matches, if any.
func ruleForVerifierLog(log string) string {
	return ""
}
