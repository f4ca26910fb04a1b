# The README's two commands: `make demo` and `make test`.
.PHONY: all bootstrap build build-sanitize build-fuzz demo test test-fast test-sanitize fuzz-smoke bench bench-micro format tidy clean soak

BUILD := build
KESTREL := $(BUILD)/kestrel

all: build

bootstrap:
	@scripts/bootstrap.sh

build: bootstrap
	@cmake --preset default >/dev/null
	@cmake --build --preset default

build-sanitize: bootstrap
	@cmake --preset sanitize >/dev/null
	@cmake --build --preset sanitize

# The sample job: decode the bundled ECS events, convert them to .klog and back, summarize them,
# and hunt through them with the bundled EQL queries (examples/hunts/*.eql).
demo: build
	@mkdir -p $(BUILD)/demo
	@$(KESTREL) convert examples/events.ndjson -o $(BUILD)/demo/events.klog
	@$(KESTREL) convert $(BUILD)/demo/events.klog -o $(BUILD)/demo/events.ndjson
	@$(KESTREL) stats $(BUILD)/demo/events.klog
	@for q in examples/hunts/*.eql; do \
	  echo "== hunt $$q: matches (process.pid of each event)"; \
	  $(KESTREL) query --input $(BUILD)/demo/events.klog --id-field process.pid "$$(cat $$q)" || exit 1; \
	done
	@echo "== replay examples/rules over the events: alerts in $(BUILD)/demo/alerts.ndjson"
	@$(KESTREL) replay --rules examples/rules --input $(BUILD)/demo/events.klog --threads 2 --verify \
	  -o $(BUILD)/demo/alerts.ndjson
	@python3 -c 'import json,sys; [print("  ", a["@timestamp"], a["rule"]["id"], [e["process"]["name"] if e else None for e in a["kestrel"]["alert"]["events"]]) for a in map(json.loads, open(sys.argv[1]))]' $(BUILD)/demo/alerts.ndjson

# The whole suite: the release build, the same tests under ASan+UBSan, then every fuzz target
# for a minute (the `long` label).
test: test-fast test-sanitize fuzz-smoke

test-fast: build
	@ctest --preset default -j2

test-sanitize: build-sanitize
	@ctest --preset sanitize -j2

build-fuzz: bootstrap
	@cmake --preset fuzz >/dev/null
	@cmake --build --preset fuzz

fuzz-smoke: build-fuzz
	@ctest --preset fuzz

# The named workloads (docs/performance.md): JSON lines on stdout, a table on stderr.
# BENCH_EVENTS events per generated stream; BENCH_ARGS picks workloads, e.g. 'seq.*'.
BENCH_EVENTS ?= 500000
bench: build
	@$(BUILD)/bench/kestrel-bench --events $(BENCH_EVENTS) $(BENCH_ARGS)

# The Google Benchmark micro-benchmarks of the hot functions and components.
bench-micro: build
	@$(BUILD)/bench/kestrel_bench $(BENCH_ARGS)

# The soak (docs/performance.md "Soak"): SOAK_SECONDS of an adversarial stream in a loop with hot
# reloads; prints one verdict line and fails when RSS grows or an event or alert goes missing.
SOAK_SECONDS ?= 600
soak: build
	@$(BUILD)/bench/kestrel-soak --seconds $(SOAK_SECONDS)

format:
	@find src tests bench -name '*.cpp' -o -name '*.h' | xargs clang-format -i

# clang-tidy with .clang-tidy on every src/**/*.cpp, TIDY_JOBS files at a time (docs/static-analysis.md).
# Every finding is an error (WarningsAsErrors: '*') printed as file:line:col; any one fails the target.
# The compile database has g++'s flags; clang is told not to warn about g++-only warning options.
TIDY_JOBS ?= 2
TIDY_ONE = out=$$(clang-tidy -p $(BUILD) --quiet --extra-arg=-Wno-unknown-warning-option "$$0" 2>&1) && exit 0; \
  printf "%s\n" "$$out" | grep -v " generated\.$$"; exit 1
tidy: build
	@find src -name '*.cpp' | sort | xargs -P $(TIDY_JOBS) -n 1 sh -c '$(TIDY_ONE)' \
	  || { echo "tidy: clang-tidy found problems (above)"; exit 1; }
	@echo "tidy: clean"

clean:
	rm -rf build build-sanitize build-fuzz
