# The commands of the README: `make run`, `make cluster-demo` and `make test`. Each installs
# missing Debian packages, configures and builds first.
BUILD_DIR ?= build
SANITIZE_DIR ?= build-sanitize
FUZZ_DIR ?= build-fuzz
FUZZ_SECONDS ?= 60
FUZZ_TARGETS ?= json rql http_request log_codec message_types
JOBS ?= 2
BUILD_TYPE ?= RelWithDebInfo
CTEST_ARGS ?=
RUN_ARGS ?=

.PHONY: all deps configure build run cluster-demo test test-sanitize fuzz bench clean format-check

all: build

deps:
	@bash scripts/install-deps.sh

configure: deps
	@cmake -S . -B $(BUILD_DIR) -DCMAKE_BUILD_TYPE=$(BUILD_TYPE) > $(BUILD_DIR).configure.log 2>&1 \
	  || (cat $(BUILD_DIR).configure.log; exit 1)

build: configure
	@cmake --build $(BUILD_DIR) -j $(JOBS)

run: build
	@if [ -x $(BUILD_DIR)/apps/dispatchd ]; then \
	  exec $(BUILD_DIR)/apps/dispatchd --dispatch.http.port=8080 $(RUN_ARGS); \
	else \
	  exec $(BUILD_DIR)/examples/embedded $(RUN_ARGS); \
	fi

# Three dispatchd nodes on loopback (HTTP 8081-8083, cluster 7401-7403, data under
# ./var/cluster-demo); prints what to try with curl; Ctrl-C stops them. RUN_ARGS go to every node.
cluster-demo: build
	@exec bash scripts/cluster-demo.sh $(BUILD_DIR)/apps/dispatchd $(RUN_ARGS)

test: build
	@cd $(BUILD_DIR) && ctest --output-on-failure -j $(JOBS) $(CTEST_ARGS)

# ASan + UBSan (+ LSan at exit). CAF 0.17's own headers trip UBSan in a function-based spawn without
# arguments; the suppressions name only CAF's code (scripts/ubsan.supp names them), nothing of ours. UBSan is built
# recoverable so that the suppressions apply; halt_on_error=1 makes every other report fatal.
# The install test is left out: it links an uninstrumented consumer against the library.
test-sanitize: deps
	@cmake -S . -B $(SANITIZE_DIR) -DCMAKE_BUILD_TYPE=Debug -DSANITIZE=address,undefined \
	  -DDISPATCH_BUILD_BENCH=OFF > $(SANITIZE_DIR).configure.log 2>&1 \
	  || (cat $(SANITIZE_DIR).configure.log; exit 1)
	@cmake --build $(SANITIZE_DIR) -j $(JOBS)
	@cd $(SANITIZE_DIR) && \
	  UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1:suppressions=$(CURDIR)/scripts/ubsan.supp \
	  ASAN_OPTIONS=detect_leaks=1 LSAN_OPTIONS=suppressions=$(CURDIR)/scripts/lsan.supp \
	  ctest --output-on-failure -j $(JOBS) -LE install $(CTEST_ARGS)

# libFuzzer (clang, ASan + UBSan): configures $(FUZZ_DIR) with DISPATCH_FUZZ=ON, builds the targets
# of fuzz/ and runs each for FUZZ_SECONDS on its working corpus, then prints executions and
# findings per target (scripts/fuzz-run.sh); exits 1 on a finding. FUZZ_TARGETS="rql json" picks
# fewer, FUZZ_ARGS="-jobs=2" passes libFuzzer flags. See fuzz/README.md.
fuzz: deps
	@CC=clang CXX=clang++ cmake -S . -B $(FUZZ_DIR) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DDISPATCH_FUZZ=ON \
	  -DDISPATCH_BUILD_TESTS=OFF -DDISPATCH_BUILD_EXAMPLES=OFF -DDISPATCH_BUILD_BENCH=OFF \
	  > $(FUZZ_DIR).configure.log 2>&1 || (cat $(FUZZ_DIR).configure.log; exit 1)
	@cmake --build $(FUZZ_DIR) -j $(JOBS) --target $(addprefix fuzz_,$(FUZZ_TARGETS))
	@bash scripts/fuzz-run.sh $(FUZZ_DIR) $(FUZZ_SECONDS) $(FUZZ_TARGETS)

# The standard benchmark set (about 4 minutes): limits, engine scenarios, table, JSON lines in
# bench/results/latest.jsonl and SVG figures beside it. BENCH_ARGS="--duration=3" or
# BENCH_ARGS="--scenario=standard-sync,open-50" picks less; see bench/README.md.
BENCH_ARGS ?=
bench: build
	@$(BUILD_DIR)/bench/dispatch-bench $(BENCH_ARGS)

# Layout check: clang-format (Debian's 14) over every tracked .cpp/.hpp against .clang-format; lists
# the files that differ with the lines that would change, exits 1 if any. Changes nothing; see one
# file's changes with `bash scripts/format-check.sh --diff FILE`. `make test` runs it too (ctest entry
# format.layout); `clang-format -i FILE` fixes a file.
format-check: deps
	@bash scripts/format-check.sh

clean:
	rm -rf $(BUILD_DIR) $(SANITIZE_DIR) $(FUZZ_DIR) $(BUILD_DIR).configure.log \
	  $(SANITIZE_DIR).configure.log $(FUZZ_DIR).configure.log
