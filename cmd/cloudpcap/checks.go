package main

import (
	"github.com/cloudpcap/cloudpcap/lab/scenario"
)

// scenarioChecks validates the parts of a scenario that belong to other
// packages (strategy names and parameters), so a bad scenario fails before
// any namespace is made.
func scenarioChecks() []scenario.Check { return nil }
