# chronicle - market-data storage and ETL as small Unix filters.
# make [SAN=1] [all|check|demo|install|clean]; user CFLAGS come last.

PREFIX ?= /usr/local
BINDIR ?= $(PREFIX)/bin
LIBDIR ?= $(PREFIX)/lib
INCDIR ?= $(PREFIX)/include
MANDIR ?= $(PREFIX)/share/man
DESTDIR ?=

CC ?= cc
PKGS := libzstd zlib libisal jansson libxxhash sqlite3 libwebsockets
# libcurl and libcrypto are loaded by the first S3 or REST request
# (common/netlib.c), not linked: only their headers are needed here, and a
# program that never makes a request does not load them and the ~25
# libraries they bring at each start.
DL_PKGS := libcurl libcrypto
WARN := -Wall -Wextra -Wvla -Wstrict-prototypes -Wmissing-prototypes -Wshadow \
	-Wpointer-arith -Wcast-align -Wwrite-strings -Wformat=2 -Wundef
# Objects and programs go in place; a sanitizer build goes to build-san/ so
# that both can coexist (the tests run whichever make check built).
OPT := -O2 -g
O :=
ifeq ($(SAN),1)
OPT := -O1 -g -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
O := build-san/
endif
# x86-64-v2 (SSE4.2, POPCNT) is every x86 server of the last decade; set
# ARCH= to build for anything else.
ARCH ?= $(if $(filter x86_64,$(shell uname -m)),-march=x86-64-v2)
ALL_CFLAGS := -std=c11 -D_GNU_SOURCE $(ARCH) $(OPT) $(WARN) -Icommon \
	$(shell pkg-config --cflags $(PKGS) $(DL_PKGS) 2>/dev/null) $(CPPFLAGS) $(CFLAGS)
# --as-needed: a program depends on the libraries its objects of libchr.a
# use only (libwebsockets: chr-feed), whatever the compiler's default
ALL_LDFLAGS := $(filter -fsanitize=%,$(OPT)) -Wl,--as-needed $(LDFLAGS)
LIBS := $(shell pkg-config --libs $(PKGS) 2>/dev/null) -lcsv -lm -pthread

LIB_SRC := $(wildcard common/*.c)
LIB_OBJ := $(patsubst %.c,$(O)%.o,$(LIB_SRC))
LIB_HDR := $(wildcard common/*.h)
PROGS := $(notdir $(wildcard bin/chr-*))
PROG_BIN := $(foreach p,$(PROGS),$(O)bin/$(p)/$(p))
UNIT_SRC := $(wildcard test/unit/t-*.c)
UNIT_BIN := $(patsubst %.c,$(O)%,$(UNIT_SRC))
# the test data generator; its records (gen/recs.c) serve the unit tests too
GEN_BIN := $(O)test/gen/gen
GEN_REC := $(O)test/gen/recs.o
# the live transport alone, against test/feed-server (test/feed-live.bats)
FEED_CLIENT := $(O)test/feed-client/feed-client
SCRIPTS := $(filter-out %.1,$(wildcard scripts/chr-*))
MANS := $(wildcard bin/chr-*/*.1 scripts/chr-*.1)

.PHONY: all deps test-deps duckdb arrowjs check unit bats demo install uninstall clean
.DEFAULT_GOAL := all

all: deps $(O)libchr.a $(PROG_BIN)

# Dependencies come from Debian packages: install them when we can (root),
# else say exactly what to run.
INSTALL_DEPS = if [ "$$(id -u)" = 0 ]; then scripts/install-deps; else \
	echo "chronicle: dependencies are missing; run: sudo scripts/install-deps" >&2; exit 3; fi
deps:
	@if ! pkg-config --exists $(PKGS) $(DL_PKGS) 2>/dev/null || \
	    ! echo '#include <csv.h>' | $(CC) -E -x c - >/dev/null 2>&1; then $(INSTALL_DEPS); fi
test-deps: duckdb arrowjs
	@if ! command -v bats >/dev/null || ! command -v xxhsum >/dev/null || \
	    ! command -v zstd >/dev/null || ! command -v python3 >/dev/null || \
	    ! command -v openssl >/dev/null || [ ! -d /usr/lib/bats/bats-assert ] || \
	    ! command -v gnuplot >/dev/null || \
	    ! /usr/bin/python3 -c 'import numpy, pandas, zstandard' 2>/dev/null; then $(INSTALL_DEPS); fi

# Rebuild everything when the compiler flags change.
$(O).flags: FORCE
	@mkdir -p $(@D)
	@echo '$(CC) $(ALL_CFLAGS) $(ALL_LDFLAGS) $(LIBS)' | cmp -s - $@ || \
		echo '$(CC) $(ALL_CFLAGS) $(ALL_LDFLAGS) $(LIBS)' > $@
FORCE:

# DuckDB's own library (the npm package @duckdb/node-api) reads our Parquet
# files back in test/parquet.bats: installed once here, for the tests only;
# without npm or the network the tests that need it skip, saying why.
DUCKDB_DIR := $(O)test/duckdb
duckdb:
	@if [ ! -d $(DUCKDB_DIR)/node_modules/@duckdb/node-api ] && command -v npm >/dev/null; then \
		mkdir -p $(DUCKDB_DIR) && echo "installing @duckdb/node-api into $(DUCKDB_DIR)" && \
		(cd $(DUCKDB_DIR) && timeout 600 npm install --silent --no-audit --no-fund \
			@duckdb/node-api) || echo "chronicle: npm could not install @duckdb/node-api;" \
			"test/parquet.bats will skip its DuckDB checks" >&2; fi

# Arrow's own JavaScript library (the npm package apache-arrow) reads our
# Arrow IPC streams back in test/arrow.bats: installed once here, for the
# tests only; without npm or the network those tests skip, saying why.
ARROWJS_DIR := $(O)test/arrowjs
arrowjs:
	@if [ ! -d $(ARROWJS_DIR)/node_modules/apache-arrow ] && command -v npm >/dev/null; then \
		mkdir -p $(ARROWJS_DIR) && echo "installing apache-arrow into $(ARROWJS_DIR)" && \
		(cd $(ARROWJS_DIR) && timeout 600 npm install --silent --no-audit --no-fund \
			apache-arrow) || echo "chronicle: npm could not install apache-arrow;" \
			"test/arrow.bats will skip its checks" >&2; fi

$(O)common/%.o: common/%.c $(LIB_HDR) $(O).flags | deps
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) -c -o $@ $<

$(O)libchr.a: $(LIB_OBJ)
	rm -f $@ && ar rcs $@ $^

.SECONDEXPANSION:
$(PROG_BIN): $(O)bin/%: $$(wildcard bin/$$(dir $$*)*.c) $(LIB_HDR) $(O)libchr.a $(O).flags
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) $(ALL_LDFLAGS) -o $@ $(filter %.c,$^) $(O)libchr.a $(LIBS)

$(O)test/gen/%.o: test/gen/%.c test/gen/recs.h $(LIB_HDR) $(O).flags
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) -c -o $@ $<

$(GEN_BIN): $(O)test/gen/gen.o $(GEN_REC) $(O)libchr.a
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(LIBS)

$(FEED_CLIENT): test/feed-client/feed-client.c $(LIB_HDR) $(O)libchr.a $(O).flags
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) $(ALL_LDFLAGS) -o $@ $< $(O)libchr.a $(LIBS)

$(O)test/unit/t-%: test/unit/t-%.c test/unit/unit.h test/gen/recs.h $(GEN_REC) $(LIB_HDR) $(O)libchr.a $(O).flags
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) -Itest/unit -Itest/gen $(ALL_LDFLAGS) -o $@ $< $(GEN_REC) $(O)libchr.a $(LIBS)

check: unit bats

unit: all test-deps $(GEN_BIN) $(FEED_CLIENT) $(UNIT_BIN)
	@set -e; for t in $(UNIT_BIN); do echo "unit: $$t"; $$t; done

bats: all test-deps $(GEN_BIN) $(FEED_CLIENT) $(UNIT_BIN)
	CHR_BUILD=$(CURDIR)/$(O) bats test

# kill campaigns, not part of check (which runs each with a few kills):
# chr-seal-copy killed KILLS times while a writer rolls segments, with
# chr-tier passes between the runs (test/chr-seal-copy.bats)
KILLS ?= 100
.PHONY: campaign
campaign: all test-deps $(GEN_BIN)
	CHR_BUILD=$(CURDIR)/$(O) CHR_KILLS=$(KILLS) bats -f 'chr-tier passes between' test/chr-seal-copy.bats

# chr-tier killed KILLS times while it uploads into an object-storage tier
# (a local moto_server), a pass after every 4 kills (test/s3.bats)
.PHONY: campaign-s3
campaign-s3: all test-deps $(GEN_BIN)
	CHR_BUILD=$(CURDIR)/$(O) CHR_KILLS=$(KILLS) bats -f 'SIGKILL during uploads' test/s3.bats

# replication between two network namespaces (root), ROUNDS link cuts and
# SIGKILLs of each end while a writer appends (test/replicate.bats)
ROUNDS ?= 20
.PHONY: campaign-repl
campaign-repl: all $(GEN_BIN)
	CHR_BUILD=$(CURDIR)/$(O) CHR_REPL_ROUNDS=$(ROUNDS) CHR_REPL_BURSTS=$$(($(ROUNDS) * 60)) \
		bats -f 'network namespaces' test/replicate.bats

# chr-import-tardis -j 2 killed KILLS times at random moments, run to the
# end after every 4 kills, against a sequential import (test/import-jobs.bats)
.PHONY: campaign-import
campaign-import: all
	CHR_BUILD=$(CURDIR)/$(O) CHR_KILLS=$(KILLS) bats -f 'killed at random moments' test/import-jobs.bats

demo: all
	scripts/demo

# chr.pc: users write #include <chr/chr.h>, so only includedir is on their
# path (never the headers' generic names, io.h ...). libchr is only static:
# its dependencies go in Requires and Libs, which plain --libs reads.
PC := 'prefix=$(PREFIX)' 'libdir=$(LIBDIR)' 'includedir=$(INCDIR)' '' 'Name: chr' \
	'Description: chronicle market-data record format library' 'Version: 0.1.0' \
	'Requires: $(PKGS)' 'Cflags: -I$${includedir}' \
	'Libs: -L$${libdir} -lchr -lcsv -lm -pthread'
chr.pc: FORCE
	@printf '%s\n' $(PC) | cmp -s - $@ || printf '%s\n' $(PC) > $@

install: all chr.pc
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(LIBDIR)/pkgconfig \
		$(DESTDIR)$(INCDIR)/chr $(DESTDIR)$(MANDIR)/man1
	install -m 755 $(PROG_BIN) $(SCRIPTS) $(DESTDIR)$(BINDIR)
	install -m 644 $(O)libchr.a $(DESTDIR)$(LIBDIR)
	install -m 644 chr.pc $(DESTDIR)$(LIBDIR)/pkgconfig
	install -m 644 $(filter-out %_int.h,$(LIB_HDR)) $(DESTDIR)$(INCDIR)/chr
	$(if $(MANS),install -m 644 $(MANS) $(DESTDIR)$(MANDIR)/man1)

uninstall:
	rm -f $(addprefix $(DESTDIR)$(BINDIR)/,$(PROGS) $(notdir $(SCRIPTS))) \
		$(DESTDIR)$(LIBDIR)/libchr.a $(DESTDIR)$(LIBDIR)/pkgconfig/chr.pc \
		$(addprefix $(DESTDIR)$(MANDIR)/man1/,$(notdir $(MANS)))
	rm -rf $(DESTDIR)$(INCDIR)/chr

clean:
	rm -f $(LIB_OBJ) $(O)libchr.a $(O).flags $(PROG_BIN) $(UNIT_BIN) chr.pc \
		$(GEN_BIN) $(FEED_CLIENT) $(O)test/gen/*.o
	rm -rf demo-archive demo-archive-tiers build-fuzz $(O:%/=%)

# libFuzzer harnesses (test/fuzz/README.md), not part of check: `make fuzz`
# builds libchr instrumented in build-fuzz/ with clang, seeds a corpus per
# harness from test/data, and runs each FUZZ_SECONDS in turn (clang's
# -Wcast-align warns on x86 too, where gcc's does not: off here).
FUZZ_CC ?= clang
FUZZ_SECONDS ?= 60
FUZZ_NAMES ?= reader csv csvdiff zsq queue json
FUZZ_OPT := -O1 -g -fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=all \
	-fno-omit-frame-pointer
FUZZ_BIN := $(FUZZ_NAMES:%=build-fuzz/test/fuzz/fuzz-%) build-fuzz/test/fuzz/mkseed
.PHONY: fuzz fuzz-build
fuzz-build:
	@command -v $(FUZZ_CC) >/dev/null || { echo "chronicle: make fuzz needs clang" \
		"(with libFuzzer); run: sudo scripts/install-deps --fuzz" >&2; exit 3; }
	$(MAKE) CC=$(FUZZ_CC) OPT='$(FUZZ_OPT)' O=build-fuzz/ ARCH= \
		CFLAGS='-Wno-cast-align $(CFLAGS)' $(FUZZ_BIN)
build-fuzz/test/fuzz/fuzz-%: test/fuzz/fuzz-%.c test/fuzz/fuzz.h $(LIB_HDR) build-fuzz/libchr.a build-fuzz/.flags
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) -fsanitize=fuzzer -o $@ $< build-fuzz/libchr.a $(LIBS)
build-fuzz/test/fuzz/mkseed: test/fuzz/mkseed.c $(LIB_HDR) build-fuzz/libchr.a build-fuzz/.flags
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) -o $@ $< build-fuzz/libchr.a $(LIBS)
fuzz: fuzz-build
	@set -e; st=0; s=build-fuzz/seeds; rm -rf $$s; mkdir -p $$s/reader $$s/zsq $$s/queue $$s/csv $$s/csvdiff build-fuzz/crashes; \
	for f in test/data/*.csv; do n=$$(basename $$f .csv); \
		build-fuzz/test/fuzz/mkseed $$f $$s $$n; \
		for m in 0 1 6; do { printf "\\$$m"; head -c 32768 $$f; } > $$s/csv/$$n.$$m; done; \
		for m in 0 1 016 041; do { printf "\\$$m"; head -c 8192 $$f; } > $$s/csvdiff/$$n.$$m; done; \
	done; \
	mkdir -p $$s/json; zcat test/data/*raw_capture*.gz | head -c 32768 >build-fuzz/capture.txt; \
	for f in build-fuzz/capture.txt test/data/feed/*.txt; do n=$$(basename $$f .txt); \
		for m in 1 3 5; do { printf "\\$$m"; cat $$f; } > $$s/json/$$n.$$m; done; \
	done; \
	i=0; while IFS= read -r l; do i=$$((i + 1)); { printf '\0'; printf '%s' "$$l"; } >$$s/json/hostile.$$i; \
	done <test/data/json-hostile.txt; \
	for h in $(FUZZ_NAMES); do c=build-fuzz/corpus/$$h; mkdir -p $$c; cp $$s/$$h/* $$c/; \
		echo "fuzz: $$h, $(FUZZ_SECONDS) s"; \
		build-fuzz/test/fuzz/fuzz-$$h -max_total_time=$(FUZZ_SECONDS) -print_final_stats=1 \
			-artifact_prefix=build-fuzz/crashes/$$h- $$c || st=1; \
	done; exit $$st
