# tricolor: the top-level Makefile wraps CMake.
#
#   make                 configure (once) and build Release in build/
#   make demo            build and run the guided tour (build/examples/tour)
#   make dashboard       run examples/dashboard.c, a program with a changing heap, and print the
#                        URL of its live dashboard (DASHBOARD_ADDR, default 127.0.0.1:6060)
#   make check           the test suite in build/, then again under UBSan with internal
#                        asserts in build-ubsan/ (without the tests labelled `long`)
#   make check-fast      the release suite only, without the tests labelled `long`
#   make bench           bench/run.sh (tables in bench/out/results.md, recorded in bench/RESULTS.md)
#   make install PREFIX=/some/dir     (default /usr/local)
#   make clean
#
# Variables: CTEST_ARGS (extra ctest arguments, e.g. CTEST_ARGS='-R alloc'), JOBS, PREFIX,
# CTEST_TIMEOUT (seconds, for tests that set no TIMEOUT of their own), CC (the C compiler).

BUILD        ?= build
UBSAN_BUILD  ?= build-ubsan
PREFIX       ?= /usr/local
JOBS         ?= $(shell nproc 2>/dev/null || echo 2)
CTEST_ARGS   ?=
CTEST_TIMEOUT ?= 600
CMAKE        ?= cmake
CTEST        ?= ctest
DASHBOARD_ADDR ?= 127.0.0.1:6060

CTEST_FLAGS  = --output-on-failure -j2 --timeout $(CTEST_TIMEOUT)
UBSAN_ENV    = UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1

# The sub-build gets its own -j; do not hand it this make's jobserver flags.
SUBBUILD     = env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL $(CMAKE) --build

.PHONY: all build check check-fast check-release check-ubsan ubsan demo dashboard bench install clean tools

all: build

# --- tools: stop early, and say which Debian package to install --------------------------------
tools:
	@command -v $(CMAKE) >/dev/null 2>&1 || { \
	  echo "cmake not found: sudo apt-get install cmake" >&2; exit 1; }
	@command -v $(CTEST) >/dev/null 2>&1 || { \
	  echo "ctest not found: sudo apt-get install cmake" >&2; exit 1; }
	@command -v $(firstword $(CC)) >/dev/null 2>&1 || { \
	  echo "C compiler '$(firstword $(CC))' not found: sudo apt-get install build-essential" >&2; exit 1; }
	@echo '#include <zlib.h>' | $(CC) -E -x c - >/dev/null 2>&1 || { \
	  echo "zlib.h not found (heap profiles are gzipped): sudo apt-get install zlib1g-dev" >&2; exit 1; }
	@command -v pkg-config >/dev/null 2>&1 && pkg-config --exists libmicrohttpd || { \
	  echo "libmicrohttpd not found (libtricolor-debug serves HTTP with it): sudo apt-get install libmicrohttpd-dev pkg-config" >&2; exit 1; }
	@v=$$($(CMAKE) --version | sed -n '1s/[^0-9]*\([0-9][0-9]*\)\.\([0-9][0-9]*\).*/\1 \2/p'); \
	 set -- $$v; if [ "$${1:-0}" -lt 3 ] || { [ "$${1:-0}" -eq 3 ] && [ "$${2:-0}" -lt 25 ]; }; then \
	  echo "cmake $$1.$$2 is too old: tricolor needs cmake 3.25 or newer (Debian 12: sudo apt-get install cmake)" >&2; exit 1; fi

# Configure a build directory if it has not been configured (cmake --build re-runs the
# configuration by itself when a CMakeLists.txt changes).
# $(call configure,DIR,EXTRA CMAKE ARGUMENTS)
define configure
	@if [ ! -f $(1)/CMakeCache.txt ] || { [ ! -f $(1)/Makefile ] && [ ! -f $(1)/build.ninja ]; }; then \
	  echo "== configuring $(1)"; \
	  CC="$(CC)" $(CMAKE) -S . -B $(1) -DCMAKE_BUILD_TYPE=Release $(2) || exit 1; \
	fi
endef

# --- build -------------------------------------------------------------------------------------
build: tools
	$(call configure,$(BUILD),)
	$(SUBBUILD) $(BUILD) --parallel $(JOBS)

ubsan: tools
	$(call configure,$(UBSAN_BUILD),-DTRICOLOR_SANITIZE=undefined -DTRICOLOR_DEBUG=ON)
	$(SUBBUILD) $(UBSAN_BUILD) --parallel $(JOBS)

# --- tests -------------------------------------------------------------------------------------
# Both suites run even when the first fails, so that both summaries are printed; the target
# fails if either did.
check: tools
	@rc=0; \
	echo "== release suite ($(BUILD))"; \
	$(MAKE) --no-print-directory check-release || rc=1; \
	echo "== UBSan + TRICOLOR_DEBUG suite ($(UBSAN_BUILD)), without label 'long'"; \
	$(MAKE) --no-print-directory check-ubsan || rc=1; \
	if [ $$rc -ne 0 ]; then echo "== make check: FAILED" >&2; fi; \
	exit $$rc

check-release: build
	$(CTEST) --test-dir $(BUILD) $(CTEST_FLAGS) $(CTEST_ARGS)

check-ubsan: ubsan
	$(UBSAN_ENV) $(CTEST) --test-dir $(UBSAN_BUILD) $(CTEST_FLAGS) -LE long $(CTEST_ARGS)

check-fast: build
	$(CTEST) --test-dir $(BUILD) $(CTEST_FLAGS) -LE long $(CTEST_ARGS)

# --- the tour, benchmarks, install -------------------------------------------------------------
demo: build
	./$(BUILD)/examples/tour

dashboard: build
	./$(BUILD)/examples/dashboard $(DASHBOARD_ADDR)

bench: build
	@[ -f bench/run.sh ] || { echo "bench/run.sh not found" >&2; exit 1; }
	bash bench/run.sh

install: build
	$(CMAKE) --install $(BUILD) --prefix $(PREFIX)

clean:
	rm -rf $(BUILD) $(UBSAN_BUILD)
