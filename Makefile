# Everyday commands. Each target creates .venv on first use, so a fresh clone
# needs nothing but Python 3.11+ (and make).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PP := $(BIN)/peerpulse
STAMP := $(VENV)/.installed

.PHONY: demo test lint bench bench-quick bench-calendar bench-mail bench-google bench-google-first bench-microsoft bench-files accuracy enron chaos chaos-google chaos-microsoft chaos-org-google bench-org bench-org-digest bench-org-memory bench-org-cleanup crash-loop fuzz-explore bench-ics screenshot clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

## demo: build the demo organization, run the main job on it, write the digest under ./out
demo: $(STAMP)
	$(PP) demo --out demo --quiet-if-exists
	$(PP) -v --config config.example.toml run
	@echo "digest files under ./out:" && ls -1 out/

## test: the default test suite (what CI runs)
test: $(STAMP)
	$(BIN)/python -m pytest -q -n 2

## lint: ruff, then mypy on the installed package layout. The folders install as
## peerpulse.* (package-dir mapping in pyproject.toml), which mypy cannot follow, so
## build/mypy/peerpulse links them under that name; checked as folders instead, every
## peerpulse.* import would resolve to the bare top-level package and become Any.
MYPY_TREE := build/mypy
lint: $(STAMP)
	$(BIN)/ruff check connectors rules worker tests benchmarks
	rm -rf $(MYPY_TREE) && mkdir -p $(MYPY_TREE)/peerpulse
	ln -s ../../../peerpulse/__init__.py ../../../peerpulse/py.typed \
		../../../connectors ../../../rules ../../../worker $(MYPY_TREE)/peerpulse/
	MYPYPATH=$(MYPY_TREE) $(BIN)/mypy -p peerpulse

## accuracy: inference precision/recall against the demo generator's ground truth
accuracy: $(STAMP)
	$(BIN)/python -m benchmarks.accuracy

## enron: reconnect advice on the Enron organization, every senior person as owner
## (needs the corpus under $$PEERPULSE_CORPORA, default ../shared/corpora beside the checkout; not in `make test`)
enron: $(STAMP)
	$(BIN)/python -m benchmarks.enron_advice

## bench: digest vs one read of the rows it scans (and the in-SQLite floor), 1M messages + 100k events
bench: $(STAMP)
	$(BIN)/python -m benchmarks.digest_bench

## bench-quick: the same at about 100k messages + 10k events; last line `ratio: X`
bench-quick: $(STAMP)
	$(BIN)/python -m benchmarks.digest_bench --quick

## bench-calendar: next-day sync of an unchanged 10k-event calendar (and 1% changed) vs its full sync; last line `ratio: X`
bench-calendar: $(STAMP)
	$(BIN)/python -m benchmarks.calendar_sync_bench

## bench-mail: the mail header path vs mailbox + BytesHeaderParser, and 1% new mail vs a full sync
bench-mail: $(STAMP)
	$(BIN)/python -m benchmarks.mail_bench

## chaos: kill syncs and deliveries at every step and resume (also part of `make test`)
chaos: $(STAMP)
	PEERPULSE_ORG_CHAOS=1 $(BIN)/python -m pytest -q tests/worker/test_crash_resume.py tests/worker/test_exactly_once.py tests/worker/test_org_chaos.py

## chaos-google: demo-like mailbox + calendar synced through the real Google connector and store
## against the fake server at a 20% fault rate (429/403/5xx, timeouts, resets, truncated bodies,
## failing batch parts, expired access and sync tokens), compared with the fault-free run
## (a minute or two; not in `make test`, whose short version is tests/connectors/google/test_chaos.py)
chaos-google: $(STAMP)
	$(BIN)/python -m benchmarks.google_chaos --messages 3000 --events 300 --rate 0.2 --seed 1 2 3

## chaos-microsoft: demo-like mailbox + calendar synced through the real Graph connector, msal
## sign-in and store against the fake Graph and sign-in service at a 20% fault rate (429/503 with
## Retry-After, 500/502/504, timeouts, resets, truncated bodies, expired access and delta tokens,
## token-endpoint faults), then an on-premises mailbox through EWS (ErrorServerBusy, 503,
## timeouts, resets, invalid sync states); compared with the fault-free runs (minutes; not in
## `make test`, whose short version is tests/connectors/microsoft/test_chaos.py)
chaos-microsoft: $(STAMP)
	$(BIN)/python -m benchmarks.microsoft_chaos --messages 3000 --events 300 --rate 0.2 --seed 1 2 3

## chaos-org-google: organization mode on the Google path (service account, domain-wide
## delegation, fake Google): 50 mailboxes, two workers SIGKILLed 20 times; 0 duplicates,
## 0 lost periods (minutes; `make test` runs 10 mailboxes and 4 kills)
chaos-org-google: $(STAMP)
	PEERPULSE_ORG_CHAOS=1 $(BIN)/python -m pytest -q -s tests/worker/test_org_google.py

## bench-org: managers synced through the fake Google server by 1 and 2 workers: wall time,
## requests per message, digest time at 10 vs 1,000 managers, RSS, database size (docs/SCALING.md)
bench-org: $(STAMP)
	$(BIN)/python -m benchmarks.org_google_bench --sizes 1 10 100 300 1000 --speedup-at 300 --concurrency 40

## bench-org-digest: one manager's digest at 10 vs 1,000 managers (1,000 cloned in SQL from 10
## synced), without and with a shared directory of 10 people per manager, the latter also
## with the worker's directory cache off, alternated in the same run (docs/SCALING.md)
bench-org-digest: $(STAMP)
	$(BIN)/python -m benchmarks.org_digest_bench --repeat 60
	$(BIN)/python -m benchmarks.org_digest_bench --repeat 40 --directory 10

## bench-org-memory: what one worker's memory grows with per manager: its tracemalloc
## snapshots at 20 and 120 managers diffed by allocation site, then peak RSS at 100 and
## 1,000 managers without tracing (docs/SCALING.md)
bench-org-memory: $(STAMP)
	$(BIN)/python -m benchmarks.org_memory --sizes 20 120
	$(BIN)/python -m benchmarks.org_memory --sizes 100 1000 --no-trace

## bench-org-cleanup: the hourly delete of finished queue jobs at 1.68M jobs (10,000 managers,
## a week kept): Procrastinate's builtin query against ours by index, EXPLAIN ANALYZE (docs/SCALING.md)
bench-org-cleanup: $(STAMP)
	$(BIN)/python -m benchmarks.org_job_cleanup --jobs 1680000

## crash-loop: >= 100 SIGKILLs of `peerpulse run` at random moments, week after week, with an
## SMTP sink on 127.0.0.1; compared with the same weeks uninterrupted (minutes; not in `make test`)
crash-loop: $(STAMP)
	$(BIN)/python -m benchmarks.crash_loop --kills 100 --fault-kills 30

## fuzz-explore: every property with fresh randomness and 10,000 examples each
## (PEERPULSE_FUZZ_EXAMPLES=N to change; long: not in `make test`, whose CI budgets stay small)
fuzz-explore: $(STAMP)
	HYPOTHESIS_PROFILE=explore $(BIN)/python -m pytest -q -n 2 tests/fuzz

## bench-ics: peak RSS reading a synthetic ICS of 100k and 1M events (the files connector's reader)
bench-ics: $(STAMP)
	$(BIN)/python -m benchmarks.ics_memory --events 100000 1000000

## bench-google: Google sync cost vs the API minimum, against the local fake server
bench-google: $(STAMP)
	$(BIN)/python -m benchmarks.google_sync_bench

## bench-google-first: time to a first useful digest on a new 100k mailbox (demo world, real
## quota time-scaled x20), its digest against the full sync's (docs/GOOGLE.md)
bench-google-first: $(STAMP)
	$(BIN)/python -m benchmarks.google_first_digest --messages 100000 --scale 20

## bench-files: files connector sync timing on the demo (mbox and Maildir);
## BEFORE=path/to/other/.venv/bin/python compares with another checkout, run by run
bench-files: $(STAMP)
	$(BIN)/python -m benchmarks.files_sync_bench --repeat 3 $(if $(BEFORE),--compare $(BEFORE))

## bench-microsoft: Graph sync cost vs the API minimum, against the local fake Graph
bench-microsoft: $(STAMP)
	$(BIN)/python -m benchmarks.microsoft_sync_bench

## screenshot: the demo digest in headless Chromium -> docs/digest.png, docs/digest-dark.png
## (needs Debian's chromium package: apt-get install -y chromium)
screenshot: demo
	mkdir -p out
	$(PP) --config config.example.toml digest --dry-run --format html > out/digest-preview.html
	scripts/screenshot.sh out/digest-preview.html

clean:
	rm -rf $(VENV) out demo build *.egg-info
