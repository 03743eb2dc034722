# loquilex developer entry points. `make help` lists them.
SHELL := /bin/bash
# ccache hits across checkouts in different folders (CI clones afresh).
export CCACHE_BASEDIR := $(CURDIR)
export CCACHE_NOHASHDIR := true
BUILD ?= build
ASAN_BUILD ?= build-asan
TSAN_BUILD ?= build-tsan
JOBS ?= $(shell nproc)
SUDO := $(shell [ "$$(id -u)" -eq 0 ] || echo sudo)
PACKAGES := $(shell grep -v '^\s*\(\#\|$$\)' packages.txt)
DEMO_CLIP := /usr/share/pocketsphinx/test/data/librivox/sense_and_sensibility_01_austen_64kb-0870.wav
SOURCES = $(shell git ls-files '*.h' '*.cc' 2>/dev/null)

.PHONY: help setup build test lint format sanitize tsan check demo bench clean

help:
	@echo "make setup     install the Debian packages in packages.txt (safe to re-run)"
	@echo "make build     configure and build into $(BUILD)/ (g++, RelWithDebInfo)"
	@echo "make demo      build, then transcribe a recorded speech clip with the default model"
	@echo "make test      build and run the whole ctest suite (unit, integration, e2e)"
	@echo "make lint      clang-format check, clang-tidy and cppcheck (all must be clean)"
	@echo "make format    rewrite sources with clang-format"
	@echo "make sanitize  build with clang ASan+UBSan into $(ASAN_BUILD)/ and run the whole suite"
	@echo "make tsan      build with clang ThreadSanitizer into $(TSAN_BUILD)/; unit and serve tests"
	@echo "make check     lint + test + sanitize + tsan: the command CI runs"
	@echo "make bench     run the benchmarks in bench/ (see docs/BENCHMARKS.md)"

setup:
	@if dpkg-query -W -f='$${Status}\n' $(PACKAGES) 2>/dev/null | grep -qv 'install ok installed' \
	    || [ $$(dpkg-query -W -f='$${Status}\n' $(PACKAGES) 2>/dev/null | wc -l) -ne $(words $(PACKAGES)) ]; then \
	  $(SUDO) apt-get update && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y --no-install-recommends $(PACKAGES); \
	else echo "setup: all $(words $(PACKAGES)) packages are installed"; fi

$(BUILD)/build.ninja:
	cmake -S . -B $(BUILD) -G Ninja -DCMAKE_CXX_COMPILER=g++

build: $(BUILD)/build.ninja
	cmake --build $(BUILD) -j $(JOBS)

demo: build
	$(BUILD)/loquilex transcribe $(DEMO_CLIP) --format srt -

test: build
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS)

lint: $(BUILD)/build.ninja
	clang-format --dry-run -Werror $(SOURCES)
	cmake --build $(BUILD) -j $(JOBS)
	run-clang-tidy -quiet -p $(BUILD) -j $(JOBS) '$(CURDIR)/(src|tests)/' > $(BUILD)/clang-tidy.log 2>&1 \
	  || { grep -E 'warning:|error:' $(BUILD)/clang-tidy.log; exit 1; }
	cppcheck --quiet --error-exitcode=1 --enable=warning,performance,portability,unusedFunction \
	  --library=googletest --inline-suppr --suppressions-list=.cppcheck-suppressions --std=c++20 --language=c++ \
	  -I src -I tests -j 1 src tests

format:
	clang-format -i $(SOURCES)

$(ASAN_BUILD)/build.ninja:
	cmake -S . -B $(ASAN_BUILD) -G Ninja -DCMAKE_CXX_COMPILER=clang++ -DCMAKE_BUILD_TYPE=Debug \
	  -DCMAKE_CXX_FLAGS=-O1 -DLX_SANITIZE=ON

sanitize: $(ASAN_BUILD)/build.ninja
	cmake --build $(ASAN_BUILD) -j $(JOBS)
	cd $(ASAN_BUILD) && ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
	  ctest --output-on-failure -j $(JOBS)

$(TSAN_BUILD)/build.ninja:
	cmake -S . -B $(TSAN_BUILD) -G Ninja -DCMAKE_CXX_COMPILER=clang++ -DCMAKE_BUILD_TYPE=Debug \
	  -DCMAKE_CXX_FLAGS=-O1 -DLX_TSAN=ON

# The threaded code (sessions, hub, API) is exercised by the unit tests, the network loop by the
# server's loopback tests (in-process) and the serve end-to-end tests (a race makes the server
# exit non-zero); PocketSphinx itself is uninstrumented, so TSan cannot see into it.
tsan: $(TSAN_BUILD)/build.ninja
	cmake --build $(TSAN_BUILD) -j $(JOBS)
	cd $(TSAN_BUILD) && TSAN_OPTIONS=halt_on_error=1 ctest --output-on-failure -j $(JOBS) -L unit
	cd $(TSAN_BUILD) && TSAN_OPTIONS=halt_on_error=1 ctest --output-on-failure -j $(JOBS) \
	  -R 'ServeCli|ServerLoopback|TranslatedCaptions'

check: lint test sanitize tsan

bench: build
	cmake --build $(BUILD) -j $(JOBS) --target lx_bench_viewers lx_bench_mt_latency
	bench/transcribe_vs_pocketsphinx.py
	bench/serve_latency.py
	bench/stable_prefix.py
	bench/fanout.py
	bench/translate_latency.py
	bench/mt_session_latency.py
	bench/session_memory.py
	bench/capacity.py

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) $(TSAN_BUILD)
