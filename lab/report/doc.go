// Package report turns the results folders that 'cloudpcap run' writes
// (read with lab/results) into a Model — percentiles, curves, timelines, the
// tick-to-trade split, breakdowns, warnings — and renders it as one
// self-contained HTML page: inline SVG charts drawn here, a few lines of
// vanilla JavaScript for hover values and toggles, no network fetches.
//
// Load reads a folder into a Run (owned by the caller; Build only reads
// it); a broken file is a *results.FileError that names it. Build computes
// the Model from one run (a report) or several (a comparison, the first
// run being the reference); WriteFile writes the page. A comparison's
// significance marks are lab/gate's verdicts on each run against the
// reference, computed by gate.Compare itself (gate.go), so the page calls a
// run slower exactly where 'cloudpcap gate' would. Every string that came
// from a capture (connection names, symbols, order ids, SNI, warnings)
// reaches the page only through html/template, and the data the script
// reads goes through a JSON block.
package report
