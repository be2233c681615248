# Riskshare: `make run` starts the platform with demo data, `make test` runs the tests.
# Both set up what they need first: a virtual environment in .venv, compiled translations.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
MO_FILES := $(patsubst %.po,%.mo,$(wildcard locale/*/LC_MESSAGES/django.po))

.PHONY: run test setup lint typecheck messages clean

run: setup
	$(BIN)/python manage.py migrate --noinput
	$(BIN)/python manage.py collectstatic --noinput --verbosity 0
	$(BIN)/python manage.py seed_demo
	$(BIN)/python manage.py seed_demo_flags
	$(BIN)/python manage.py seed_demo_consortium
	@echo
	@echo "Riskshare: portal http://127.0.0.1:8000/  API docs http://127.0.0.1:8000/api/docs/  admin http://127.0.0.1:8000/admin/"
	@echo "Starting web, worker and beat; Ctrl-C stops them all."
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/honcho -f platform/Procfile -d . start

test: setup
	$(BIN)/pytest

setup: $(VENV)/.installed $(MO_FILES)

$(VENV)/.installed: requirements.txt requirements-dev.txt
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Riskshare needs Python 3.11 or newer: make PYTHON=python3.11 ...")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	touch $@

# Translations are compiled from the committed .po files with Babel, so no GNU gettext is
# needed to run or test. `make messages` (extracting new strings) does need GNU gettext.
locale/%/LC_MESSAGES/django.mo: locale/%/LC_MESSAGES/django.po $(VENV)/.installed
	$(BIN)/pybabel compile --statistics -i $< -o $@

messages: $(VENV)/.installed
	$(BIN)/python manage.py makemessages --locale zh_Hans --no-obsolete --no-location --ignore '.venv/*' --ignore 'var/*'

# Cheap checks, run first in CI. They need no services: the embedded default database will do.
# The import contracts are checked once pyproject.toml declares them.
lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	if grep -q '^\[tool.importlinter\]' pyproject.toml; then $(BIN)/lint-imports; fi
	$(BIN)/python manage.py makemigrations --check --dry-run
	$(BIN)/python manage.py spectacular --validate --fail-on-warn --file /dev/null

typecheck: $(VENV)/.installed
	$(BIN)/mypy .

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache .hypothesis $(MO_FILES)
