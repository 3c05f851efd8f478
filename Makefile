# Two entry points for a fresh machine: `make demo` and `make test`.
# Both bootstrap .venv from nothing; the stamp file re-installs when dependencies change.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo test lint typecheck pytest bench lock clean

$(STAMP): pyproject.toml requirements/constraints.txt
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "changegate needs Python >= 3.11; set PYTHON=python3.11 (found " + sys.version.split()[0] + ")")'
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c requirements/constraints.txt -e '.[dev]'
	touch $(STAMP)

DEMO_AT := 2024-01-20T12:00:00Z
CONTEXTS := examples/acme-shop/contexts

demo: $(STAMP)
	@echo "== validate examples/acme-shop"
	$(BIN)/changegate validate examples/acme-shop
	@echo
	@echo "== check pull request #42: alice adds CHG-2024-0150, bob (CAB) approves"
	$(BIN)/changegate check examples/acme-shop --context $(CONTEXTS)/pr-42-approved.yaml --at $(DEMO_AT)
	@echo
	@echo "== the same pull request, opened and approved by bob himself (exit 1 is the point)"
	-$(BIN)/changegate check examples/acme-shop --context $(CONTEXTS)/pr-42-self-approved.yaml --at $(DEMO_AT)
	@echo
	@echo "== deploying checkout 2.5.0 while UAT sign-off is open (exit 1 is the point)"
	-$(BIN)/changegate check examples/acme-shop/releases/checkout-v2.5.0.yaml --context $(CONTEXTS)/deploy-checkout-2.5.0.yaml --at 2024-01-25T10:30:00Z
	@echo
	@echo "== the deploy gate two days before Christmas: the holiday freeze holds (exit 1 is the point)"
	-$(BIN)/changegate --repo examples/acme-shop gate --env production --service checkout --at 2024-12-23T10:00:00Z
	@echo
	@echo "== a misspelled environment is refused, not waved through (exit 2 is the point)"
	-$(BIN)/changegate --repo examples/acme-shop gate --env prod --service checkout --at 2024-12-23T10:00:00Z
	@echo
	@echo "== ... but not for the approved emergency fix of 27 December 2023"
	$(BIN)/changegate --repo examples/acme-shop gate --env production --service checkout --change CHG-2023-0412 --context $(CONTEXTS)/deploy-emergency-2023-12-27.yaml --at 2023-12-27T13:30:00Z
	@echo
	@echo "== what is frozen, and what is coming"
	$(BIN)/changegate --repo examples/acme-shop freeze status --at 2024-12-20T10:00:00Z --days 14
	@echo
	@echo "== the error budgets on 20 January: INC-2024-0125 used 15 of checkout's 44.6 minutes"
	$(BIN)/changegate --repo examples/acme-shop budget --at $(DEMO_AT)

lint: $(STAMP)
	$(BIN)/ruff check engine tests bench docs
	$(BIN)/ruff format --check engine tests bench docs

typecheck: $(STAMP)
	$(BIN)/mypy

# pytest exits 5 when it collected no test: that is a failure here, like any other non-zero.
pytest: $(STAMP)
	$(BIN)/python -m pytest --cov --cov-report=term
	$(BIN)/changegate test policies/ --min-coverage 100

test: lint typecheck pytest

bench: $(STAMP)
	$(BIN)/python bench/run.py
	$(BIN)/python bench/audit.py
	$(BIN)/python bench/app.py
	$(BIN)/python bench/impact.py
	$(BIN)/python bench/scale.py

clean:
	rm -rf $(VENV) build dist *.egg-info .pytest_cache .mypy_cache .ruff_cache .coverage
