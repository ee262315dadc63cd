# printd: the two commands a newcomer needs.
.PHONY: run test venv bench clean

run:                 ## start the daemon on the embedded default (two simulated printers, state in ./state)
	scripts/setup-venv run
	.venv/bin/printd serve --state-dir state

test:                ## install what the tests need (apt + venv) and run the whole suite
	scripts/test

venv:
	scripts/setup-venv

bench: venv          ## the benchmarks (~12 min); figures go to docs/benchmarks.md
	.venv/bin/python bench/day.py
	.venv/bin/python bench/submit.py
	.venv/bin/python bench/latency.py
	.venv/bin/python bench/footprint.py
	bench/fuzz.sh

clean:
	rm -rf state test-artifacts .pytest_cache
