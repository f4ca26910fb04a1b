# The README's two commands: `make demo` and `make test`.
.PHONY: all bootstrap build build-sanitize build-fuzz demo test test-fast test-sanitize fuzz-smoke bench bench-micro format tidy clean

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

format:
	@find src tests bench -name '*.cpp' -o -name '*.h' | xargs clang-format -i

tidy: build
	@find src -name '*.cpp' | xargs clang-tidy -p $(BUILD) --quiet

clean:
	rm -rf build build-sanitize build-fuzz
