# mailjig: build, test, conformance.  See README.md.
#
#   make                  libmailjig, mj, mjfake (when present), test certificates
#   make test             cmocka unit tests, then the pytest suites
#   make conformance      every scenario against mj, with the report
#   make ci               what .ci/run runs (gcc + clang -Werror, tests, sanitizers, valgrind)
#   make bench            benchmarks (figures, not pass/fail)
#   make install PREFIX=/usr/local DESTDIR=
#   make clean
#
# Variables: CC (gcc), SANITIZE (e.g. address,undefined), BUILD (build dir),
# V=1 (echo commands); for conformance: SCENARIOS (scenario dir), ADAPTERS (mj,curl,python),
# GATE (adapters that decide the exit status, default mj), JUNIT (path), PYTEST_ARGS (-n auto).

ifeq ($(origin CC),default)
CC       := gcc
endif
SANITIZE ?=
PREFIX   ?= /usr/local
DESTDIR  ?=
PYTHON   ?= /usr/bin/python3

# Each compiler and sanitizer combination builds into its own tree.
comma    := ,
variant  := $(notdir $(CC))$(if $(SANITIZE),-$(subst $(comma),-,$(SANITIZE)))
BUILD    ?= build/$(variant)
CERTS    ?= build/certs

ifeq ($(V),1)
Q :=
else
Q := @
endif

# The dependency step runs before anything is compiled, including the
# pkg-config queries: build/config.mk is made by it, and GNU make restarts
# after making an included file.  `make clean` skips it.
CONFIG_MK := build/config.mk
ifeq ($(filter clean print-%,$(MAKECMDGOALS)),)
include $(CONFIG_MK)
endif

WARN     := -Wall -Wextra -Wshadow -Wconversion -Wformat=2 -Wstrict-prototypes \
            -Wmissing-prototypes -Wpointer-arith -Wvla -Wundef -Werror
CFLAGS   ?= -O2 -g
CFLAGS   += -std=c11 -D_POSIX_C_SOURCE=200809L -D_DEFAULT_SOURCE $(WARN) -fPIC -pthread \
            $(PKG_CFLAGS)
# Include paths per tree: the client sees its public headers and, for its own
# internal headers, client/src; mjfake sees only fakeservers/src (it shares no
# code with the client).
CLIENT_INC := -Iclient/include -Iclient/src
FAKE_INC   := -Ifakeservers/src
LDLIBS   += $(PKG_LIBS) -pthread
ifneq ($(SANITIZE),)
CFLAGS   += -fsanitize=$(SANITIZE) -fno-omit-frame-pointer -fno-sanitize-recover=all
LDFLAGS  += -fsanitize=$(SANITIZE)
endif

# ---- sources ---------------------------------------------------------------

LIB_SRC   := $(sort $(wildcard client/src/*.c client/src/*/*.c))
CLI_SRC   := $(sort $(wildcard client/cli/*.c))
TEST_SRC  := $(sort $(wildcard client/tests/test_*.c))
TSUP_SRC  := $(sort $(wildcard client/tests/support/*.c))
BENCH_SRC := $(sort $(wildcard client/bench/bench_*.c))
FAKE_SRC  := $(sort $(wildcard fakeservers/src/*.c fakeservers/src/*/*.c))
FTEST_SRC := $(sort $(wildcard fakeservers/tests/test_*.c))

obj = $(patsubst %.c,$(BUILD)/obj/%.o,$(1))

LIB_OBJ   := $(call obj,$(LIB_SRC))
CLI_OBJ   := $(call obj,$(CLI_SRC))
TSUP_OBJ  := $(call obj,$(TSUP_SRC))
FAKE_OBJ  := $(call obj,$(filter-out fakeservers/src/main.c,$(FAKE_SRC)))
FAKE_MAIN := $(call obj,$(filter fakeservers/src/main.c,$(FAKE_SRC)))

LIBA      := $(BUILD)/libmailjig.a
LIBSO     := $(BUILD)/libmailjig.so.0
MJ        := $(BUILD)/bin/mj
MJFAKE    := $(if $(FAKE_SRC),$(BUILD)/bin/mjfake)
TESTS     := $(patsubst client/tests/%.c,$(BUILD)/tests/%,$(TEST_SRC)) \
             $(patsubst fakeservers/tests/%.c,$(BUILD)/tests/fake_%,$(FTEST_SRC))
BENCHES   := $(patsubst client/bench/%.c,$(BUILD)/bench/%,$(BENCH_SRC))

DEPS_STAMP := $(CONFIG_MK)

# Test and bench objects are intermediates of pattern rules: keep them, so a
# second `make test` rebuilds nothing.
.SECONDARY:

.PHONY: all deps certs test unit pytest conformance ci bench install clean valgrind corpus-check \
        format tests-build fuzz fuzz-build print-%

all: $(DEPS_STAMP) $(LIBA) $(LIBSO) $(MJ) $(MJFAKE) certs

# ---- the dependency step: every target depends on it -----------------------

$(CONFIG_MK): ci/deps.sh
	$(Q)sh ci/deps.sh
	$(Q)mkdir -p $(dir $@)
	$(Q){ echo "PKG_CFLAGS := $$(pkg-config --cflags openssl yaml-0.1 jansson zlib)"; \
	     echo "PKG_LIBS := $$(pkg-config --libs openssl yaml-0.1 jansson zlib)"; \
	     echo "CMOCKA_CFLAGS := $$(pkg-config --cflags cmocka)"; \
	     echo "CMOCKA_LIBS := $$(pkg-config --libs cmocka)"; } > $@.tmp && mv $@.tmp $@

deps:
	$(Q)sh ci/deps.sh

# ---- compile ----------------------------------------------------------------

$(BUILD)/obj/%.o: %.c $(DEPS_STAMP)
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  CC      $<")
	$(Q)$(CC) $(CFLAGS) $(if $(findstring /tests/,$<),$(CMOCKA_CFLAGS)) \
	    $(if $(filter fakeservers/%,$<),$(FAKE_INC),$(CLIENT_INC)) -MMD -MP -c $< -o $@

$(LIBA): $(LIB_OBJ)
	@mkdir -p $(dir $@)
	$(Q)rm -f $@ && ar rcs $@ $^

$(LIBSO): $(LIB_OBJ)
	@mkdir -p $(dir $@)
	$(Q)$(CC) -shared -Wl,-soname,libmailjig.so.0 -Wl,--as-needed $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(MJ): $(CLI_OBJ) $(LIBA)
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(LDFLAGS) -o $@ $(CLI_OBJ) $(LIBA) $(LDLIBS)

$(BUILD)/bin/mjfake: $(FAKE_MAIN) $(FAKE_OBJ)
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/tests/test_%: $(BUILD)/obj/client/tests/test_%.o $(TSUP_OBJ) $(LIBA)
	@mkdir -p $(dir $@)
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(CMOCKA_LIBS) $(LDLIBS)

$(BUILD)/tests/fake_test_%: $(BUILD)/obj/fakeservers/tests/test_%.o $(FAKE_OBJ)
	@mkdir -p $(dir $@)
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(CMOCKA_LIBS) $(LDLIBS)

$(BUILD)/bench/bench_%: $(BUILD)/obj/client/bench/bench_%.o $(TSUP_OBJ) $(LIBA)
	@mkdir -p $(dir $@)
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

-include $(shell find $(BUILD)/obj -name '*.d' 2>/dev/null)

# ---- test certificates (never committed; see ci/mkcerts.sh) ------------------

certs: $(DEPS_STAMP)
	$(Q)sh ci/mkcerts.sh $(CERTS)

# ---- tests --------------------------------------------------------------------

# Environment every test sees: where the certificates and programs are.
TEST_ENV := MJ_CERTS=$(abspath $(CERTS)) MJ_BIN=$(abspath $(BUILD)/bin) \
            MJ_SRCDIR=$(abspath .)

# The shared corpus of real server responses through the parsers (client/tests/corpus_check.c);
# ci/corpus-check.sh skips it, saying so, where the corpus is not there.
CORPUS_CHECK := $(BUILD)/tests/corpus_check

$(CORPUS_CHECK): $(BUILD)/obj/client/tests/corpus_check.o $(TSUP_OBJ) $(LIBA)
	@mkdir -p $(dir $@)
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(CMOCKA_LIBS) $(LDLIBS)

tests-build: $(TESTS) $(BENCHES) $(CORPUS_CHECK)

test: all $(TESTS) $(CORPUS_CHECK)
	$(Q)$(MAKE) --no-print-directory -j1 unit
	$(Q)$(MAKE) --no-print-directory -j1 pytest
	$(Q)sh ci/corpus-check.sh $(CORPUS_CHECK)

corpus-check: all $(CORPUS_CHECK)
	$(Q)sh ci/corpus-check.sh $(CORPUS_CHECK)

unit: $(TESTS)
	$(Q)sh ci/run-unit.sh "$(TEST_ENV)" $(TESTS)

pytest: all
	$(Q)env $(TEST_ENV) sh ci/run-pytest.sh $(PYTHON)

valgrind: all $(TESTS)
	$(Q)sh ci/run-unit.sh "$(TEST_ENV) MJ_VALGRIND=1" $(TESTS)

# ---- conformance ----------------------------------------------------------------

# The harness (harness/, README.md "Conformance harness"): every scenario with
# every adapter; the exit status judges GATE (default mj) only.
REPORT   ?= build/report
JUNIT    ?= $(REPORT)/junit.xml
GATE     ?= mj

conformance: all
	$(Q)mkdir -p $(REPORT) $(dir $(JUNIT))
	$(Q)env $(TEST_ENV) $(PYTHON) -m pytest harness -q -p no:cacheprovider --tb=no \
	    --continue-on-collection-errors --report-dir $(REPORT) --junitxml $(JUNIT) \
	    -o junit_family=xunit1 --gate $(GATE) $(if $(SCENARIOS),--scenarios $(SCENARIOS)) \
	    $(if $(ADAPTERS),--adapters $(ADAPTERS)) $(PYTEST_ARGS)

# ---- benchmarks -------------------------------------------------------------------

bench: all $(BENCHES)
	$(Q)for b in $(BENCHES); do echo "== $$b"; env $(TEST_ENV) $$b || exit 1; done
	$(Q)env $(TEST_ENV) $(PYTHON) harness/bench.py
	$(Q)env $(TEST_ENV) $(PYTHON) harness/bench_pop3.py
	$(Q)env $(TEST_ENV) $(PYTHON) harness/bench_imap.py
	$(Q)env $(TEST_ENV) $(PYTHON) fakeservers/bench/bench_mjfake.py
	$(Q)env $(TEST_ENV) $(PYTHON) client/bench/bench_smtp.py $(BUILD)/bench/bench_smtp

# ---- fuzzing (libFuzzer, clang) ---------------------------------------------------
#   make fuzz                 build every client/fuzz/fuzz_*.c, run each FUZZ_SECONDS
#   make fuzz FUZZ_SECONDS=600
# The library is built with clang and -fsanitize=fuzzer-no-link,address,undefined
# into its own tree; each target links it with libFuzzer's main.

FUZZ_SECONDS ?= 20
FUZZ_SRC     := $(sort $(wildcard client/fuzz/fuzz_*.c))
FUZZ_LIBDIR  := build/clang-fuzzer-no-link-address-undefined
FUZZ_BINS    := $(patsubst client/fuzz/%.c,build/fuzz/%,$(FUZZ_SRC))

fuzz-build:
	$(Q)$(MAKE) --no-print-directory CC=clang SANITIZE=fuzzer-no-link,address,undefined \
	    $(FUZZ_LIBDIR)/libmailjig.a
	$(Q)$(MAKE) --no-print-directory $(FUZZ_BINS)

build/fuzz/fuzz_%: client/fuzz/fuzz_%.c $(FUZZ_LIBDIR)/libmailjig.a
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  FUZZ    $@")
	$(Q)clang -g -O1 -std=c11 -D_POSIX_C_SOURCE=200809L -D_DEFAULT_SOURCE $(WARN) \
	    -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all $(CLIENT_INC) \
	    $(PKG_CFLAGS) $< $(FUZZ_LIBDIR)/libmailjig.a $(PKG_LIBS) -o $@

fuzz: $(DEPS_STAMP) fuzz-build
	$(Q)sh ci/fuzz-smoke.sh $(FUZZ_SECONDS) $(FUZZ_BINS)

# ---- CI ------------------------------------------------------------------------------

ci:
	$(Q)sh ci/ci.sh

# ---- install -------------------------------------------------------------------------

install: all
	install -d $(DESTDIR)$(PREFIX)/lib $(DESTDIR)$(PREFIX)/lib/pkgconfig \
	    $(DESTDIR)$(PREFIX)/include/mailjig $(DESTDIR)$(PREFIX)/bin
	install -m 644 $(LIBA) $(DESTDIR)$(PREFIX)/lib/libmailjig.a
	install -m 755 $(LIBSO) $(DESTDIR)$(PREFIX)/lib/libmailjig.so.0
	ln -sf libmailjig.so.0 $(DESTDIR)$(PREFIX)/lib/libmailjig.so
	install -m 644 client/include/mailjig/*.h $(DESTDIR)$(PREFIX)/include/mailjig/
	install -m 755 $(MJ) $(MJFAKE) $(DESTDIR)$(PREFIX)/bin/
	sed -e 's|@PREFIX@|$(PREFIX)|g' -e 's|@VERSION@|$(shell sed -n 's/^#define MJ_VERSION "\(.*\)"/\1/p' client/include/mailjig/mailjig.h)|g' \
	    client/mailjig.pc.in > $(DESTDIR)$(PREFIX)/lib/pkgconfig/mailjig.pc

format:
	clang-format -i $(LIB_SRC) $(CLI_SRC) $(TEST_SRC) $(TSUP_SRC) $(FAKE_SRC) \
	    client/include/mailjig/*.h

clean:
	rm -rf build

print-%:
	@echo '$($*)'
