package loader

// SectionFinalizersRun is how many times the finalizer of section memory has detached a
// mapping, for the test that drops an Object without Close.
func SectionFinalizersRun() int64 { return sectionFinalizers.Load() }
