# Thin wrapper over CMake. Every target first makes sure the Debian packages are there.
BUILD     ?= build
ASAN_BUILD ?= build-asan
FUZZ_BUILD ?= build-fuzz
PREFIX    ?= /usr/local
DESTDIR   ?=
JOBS      ?= $(shell nproc)
CMAKE_FLAGS ?= -DCMAKE_BUILD_TYPE=RelWithDebInfo

.PHONY: all deps build programs test test-asan fuzz run install clean stress format format-check
MAKEFLAGS += --no-print-directory

all: build

deps:
	@scripts/deps.sh

$(BUILD)/CMakeCache.txt:
	@scripts/deps.sh
	cmake -S . -B $(BUILD) $(CMAKE_FLAGS) -DCMAKE_INSTALL_PREFIX=$(PREFIX)

build: $(BUILD)/CMakeCache.txt
	@scripts/deps.sh
	cmake --build $(BUILD) -j $(JOBS)

# Only kvd, kvctl and kv-bucket, with the man pages (when scdoc is there) and kvctl's
# completion scripts: what `make run` and `make install` need.
programs: $(BUILD)/CMakeCache.txt
	@scripts/deps.sh
	cmake --build $(BUILD) -j $(JOBS) --target kvd kvctl kv-bucket man kvctl_completion

test: build
	ctest --test-dir $(BUILD) --output-on-failure -j $(JOBS) --timeout 300

# The same suite under AddressSanitizer + UndefinedBehaviorSanitizer. Built with clang (the
# fuzz set of packages), which compiles it in half GCC's time, unoptimised and with line
# tables for the reports.
test-asan:
	@scripts/deps.sh
	@scripts/deps.sh fuzz
	cmake -S . -B $(ASAN_BUILD) -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ \
	    -DCMAKE_BUILD_TYPE=Debug -DKVD_SANITIZE=ON \
	    -DCMAKE_CXX_FLAGS_DEBUG="-O0 -g1" -DCMAKE_C_FLAGS_DEBUG="-O0 -g1"
	cmake --build $(ASAN_BUILD) -j $(JOBS)
	ctest --test-dir $(ASAN_BUILD) --output-on-failure -j $(JOBS) --timeout 600

# libFuzzer targets for the parsers (fuzz/), built with clang; each runs FUZZ_SECONDS
# (default 60) on a scratch copy of its corpus and any crash fails the target.
fuzz:
	@scripts/deps.sh
	@scripts/deps.sh fuzz
	FUZZ_BUILD=$(FUZZ_BUILD) FUZZ_JOBS=$(JOBS) fuzz/run.sh

# kvd in the foreground on the built-in defaults plus the example config's handler.
run: programs
	$(BUILD)/bin/kvd --config config/kvd.toml

# Benchmarks (bench/): kvd against the libuv floors, Redis and supervisord, in their own build
# directory. Prints a table and writes bench/results.json and bench/RESULTS.md (~10 min on 2
# cores), and the SVG plots beside them (bench/plot.sh; skipped without gnuplot).
# `make bench-quick` (or BENCH_ARGS=--quick) is the short run CI can afford.
BENCH_BUILD ?= build-bench
BENCH_ARGS ?=
.PHONY: bench bench-quick bench-plot
bench:
	@scripts/deps.sh
	@scripts/deps.sh bench
	cmake -S . -B $(BENCH_BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DKVD_BENCH=ON
	cmake --build $(BENCH_BUILD) -j $(JOBS) --target bench_programs
	$(BENCH_BUILD)/bin/kvd-bench $(BENCH_ARGS)
	bench/plot.sh

# The SVG plots of bench/results.json (bench/plot.sh, gnuplot), without running anything.
bench-plot:
	@scripts/deps.sh bench
	bench/plot.sh

bench-quick:
	@$(MAKE) bench BENCH_ARGS="--quick $(BENCH_ARGS)"

# Stress (tests/stress): 10,000 live buckets with 8 busy clients and 3 event receivers, kvd's
# RSS over 100,000 create/stop cycles, SIGTERM under load, and one abuse per memory bound,
# each failing if kvd's peak RSS reaches 256 MiB (last run: history of 1 MB events 44.9 MiB,
# never-acking sync subscriber 27.2 MiB, replies piled up behind a frozen bucket 47.7 MiB,
# clients that pipeline and never read 51.3 MiB, max_clients + 100 connections 7.8 MiB).
# The full counts take a few minutes on 2 cores (78 s in the last run without the bounds
# scenarios, which add 16 s); STRESS_ARGS sets smaller ones (kvd-stress --help lists them), e.g.
#   make stress STRESS_ARGS="--buckets 1000 --cycles 5000 --shutdown-runs 1"
STRESS_ARGS ?=
stress: $(BUILD)/CMakeCache.txt
	@scripts/deps.sh
	cmake --build $(BUILD) -j $(JOBS) --target kvd-stress
	$(BUILD)/bin/kvd-stress $(STRESS_ARGS)

# The fleet end-to-end tests (tests/fleet: real nats-server processes, three kvd hosts on a
# three-node cluster). `make fleet-test` runs them with 200 buckets per scenario (about 35 s on
# 2 cores); `make fleet-test-full` with the issue's 1,000.
FLEET_BUCKETS ?= 200
.PHONY: fleet-test fleet-test-full
fleet-test: $(BUILD)/CMakeCache.txt
	@scripts/deps.sh
	@scripts/deps.sh nats
	cmake -S . -B $(BUILD)
	cmake --build $(BUILD) -j $(JOBS) --target fleet_tests fleet_unit_tests
	$(BUILD)/bin/fleet_unit_tests
	KVD_FLEET_BUCKETS=$(FLEET_BUCKETS) $(BUILD)/bin/fleet_tests

fleet-test-full:
	@$(MAKE) fleet-test FLEET_BUCKETS=1000

.PHONY: bench-fleet
# The fleet section alone (kvd-fleet-bench, driven by kvd-bench): events through kvd-nats
# into JetStream against libnats publishing the same payloads, and kill -> exit stored.
bench-fleet:
	@$(MAKE) bench BENCH_ARGS="--only fleet $(BENCH_ARGS)"

# .clang-format applied to every C++ file (format), or checked as CI does (format-check).
format:
	@scripts/deps.sh format
	scripts/format.sh

format-check:
	@scripts/deps.sh format
	scripts/format.sh --check

# The Debian package (debian/): dist/kvd_VERSION_amd64.deb and its -dbgsym, built by
# dpkg-buildpackage from a copy of the tree in $(PACKAGE_BUILD) (so that the tree stays clean
# and the .debs do not land in its parent), without the test suite. `make package-check`
# also runs lintian and installs, removes and purges the package (scripts/check-package.sh).
PACKAGE_BUILD ?= build-package
DIST ?= dist
.PHONY: package package-check
package:
	@scripts/deps.sh
	@scripts/deps.sh package
	rm -rf $(PACKAGE_BUILD)
	mkdir -p $(PACKAGE_BUILD)/src $(DIST)
	tar -cf - --exclude-vcs --exclude='./build*' --exclude='./$(DIST)' --exclude='./obj-*' \
	    --exclude=./bench/results.json . | tar -xf - -C $(PACKAGE_BUILD)/src
	cd $(PACKAGE_BUILD)/src && DEB_BUILD_OPTIONS="nocheck parallel=$(JOBS) $(DEB_BUILD_OPTIONS)" \
	    dpkg-buildpackage -b -us -uc
	cp $(PACKAGE_BUILD)/*.deb $(PACKAGE_BUILD)/*.changes $(PACKAGE_BUILD)/*.buildinfo $(DIST)/
	rm -rf $(PACKAGE_BUILD)
	@ls -l $(DIST)

package-check: package
	scripts/check-package.sh $(DIST)

install: programs
	DESTDIR=$(DESTDIR) cmake --install $(BUILD) --prefix $(PREFIX)

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) $(FUZZ_BUILD)
