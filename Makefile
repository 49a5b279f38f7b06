# The README's two commands: `make demo` runs the main job, `make test` passes the tests.
# Both install what they need; nothing has to be set up by hand.
PYTHON ?= python3
PIP := $(PYTHON) -m pip
FUZZ_RUNS ?= 20000

.PHONY: demo demo-xml test install install-test server lint test-compiled test-pure fuzz fuzz-native \
	bench clean

# Prosody (the local test server) and dnsmasq (the DNS tests) from the distribution's packages,
# when missing. Needs root or sudo on a machine without them.
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

install:
	$(PIP) install --quiet --disable-pip-version-check -e .

install-test:
	$(PIP) install --quiet --disable-pip-version-check -e ".[test,fuzz]"

server:
	@if ! command -v prosody >/dev/null || ! { command -v dnsmasq >/dev/null || [ -x /usr/sbin/dnsmasq ]; }; then \
		echo "installing prosody and dnsmasq from the distribution's packages"; \
		$(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get update -q && \
		$(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -q prosody dnsmasq-base; \
	fi

# The main job: two accounts on a throwaway local Prosody, messages, an IQ, the message rate.
demo: install server
	$(PYTHON) examples/demo.py

# The XML layer alone: build, write, read back and reject streams.
demo-xml: install
	$(PYTHON) examples/demo_xml.py

# The whole suite twice: with the compiled extension (parser tests also run the pure parser),
# then with FASTXMPP_NO_EXTENSIONS=1 (everything pure Python). A short fuzz run and ruff close it.
test: install-test server test-compiled test-pure fuzz lint

test-compiled:
	FASTXMPP_REQUIRE_EXTENSIONS=1 $(PYTHON) -m pytest tests

test-pure:
	FASTXMPP_NO_EXTENSIONS=1 $(PYTHON) -m pytest tests

fuzz:
	$(PYTHON) fuzz/fuzz_parser.py -runs=$(FUZZ_RUNS) -seed=1

# Coverage-guided fuzzing of the C code itself (clang needed); FUZZ_SECONDS long.
fuzz-native:
	fuzz/native.sh $(or $(FUZZ_SECONDS),300)

lint:
	$(PYTHON) -m ruff check fastxmpp tests benchmarks examples fuzz ext/gen_nametab.py
	$(PYTHON) -m ruff format --check fastxmpp tests benchmarks examples fuzz ext/gen_nametab.py

bench: install
	$(PIP) install --quiet --disable-pip-version-check -e ".[bench]"
	$(PYTHON) -m pytest benchmarks --benchmark-only --benchmark-columns=median,ops,rounds \
		--benchmark-group-by=group --benchmark-json=build/bench.json
	$(PYTHON) benchmarks/report.py build/bench.json
	$(PYTHON) benchmarks/ratios.py

clean:
	rm -rf build dist *.egg-info fastxmpp/*.so fastxmpp/*.c
