package main

import (
	"errors"
	"fmt"

	"github.com/cloudpcap/cloudpcap/lab/scenario"
	"github.com/cloudpcap/cloudpcap/trader/strategy"
)

// scenarioChecks validates the parts of a scenario that belong to other
// packages (strategy names and parameters), so that a bad scenario fails
// with its file position before any namespace is made.
func scenarioChecks() []scenario.Check {
	return []scenario.Check{checkStrategies}
}

func checkStrategies(f *scenario.File) scenario.Errors {
	var errs scenario.Errors
	for i, t := range f.Scenario.Traders {
		params := map[string]string{}
		for k, v := range t.Params {
			params[k] = string(v)
		}
		if t.Strategy == "" {
			continue // Validate already says it is required
		}
		_, err := strategy.New(t.Strategy, params, strategy.Env{Feeds: len(t.Feeds)})
		if err == nil {
			continue
		}
		path := fmt.Sprintf("traders.%d.strategy", i)
		var se *strategy.Error
		if errors.As(err, &se) && se.Param != "" {
			path = fmt.Sprintf("traders.%d.params.%s", i, se.Param)
		}
		errs = append(errs, f.Errorf(path, "%v", err))
	}
	return errs
}
