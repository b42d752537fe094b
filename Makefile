# The two commands of the README: `make demo` (the main job) and `make test` (every test);
# `make odoo` first on a machine without Odoo 19.
PYTHON ?= python3
SALES ?= 2000

.PHONY: odoo demo test test-bootstrap lint format chaos bench sandbox

odoo:  ## no Odoo 19 here? install it beside the checkout (../odoo-19.0, its own venv)
	$(PYTHON) dev/bootstrap_odoo.py

demo:  ## PostgreSQL up, demo database with the addon, sandbox, first import, Odoo on :8069
	$(PYTHON) dev/demo.py

test:  ## pure-Python suite + Odoo suite on a throwaway database; closes with "N passed, N failed"
	$(PYTHON) dev/run_tests.py

test-bootstrap:  ## `make odoo` end to end from a local archive, then the addon installed
	$(PYTHON) -m pytest -q -s -p no:odoo -m bootstrap dev/tests  # not an Odoo test: no pytest-odoo

lint:  ## OCA's linters: ruff, pylint-odoo, oca-checks-odoo-module/-po, prettier, eslint
	$(PYTHON) dev/lint.py

format:  ## prettier --write on what `make lint` checks with it (views, data, tours, YAML)
	$(PYTHON) dev/lint.py --format

chaos:  ## the long fault-injection cases (1 000-sale import under faults); prints case/tried/held
	$(PYTHON) dev/run_tests.py --chaos

bench:  ## import and webhook throughput (make bench SALES=10000)
	$(PYTHON) dev/bench.py --sales $(SALES)

sandbox:  ## a Gumroad sandbox on 127.0.0.1:8765 (Ctrl-C to stop)
	$(PYTHON) -m gumroad_sandbox serve --port 8765 --sales 300
