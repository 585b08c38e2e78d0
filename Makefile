# SPDX-License-Identifier: ISC
# imapwatch - passive IMAP/IMAPS analyzer.
#
#   make            build ./imapwatch
#   make run        build, then show what imapwatch finds in a few of the
#                   bundled captures (pcaps/): a summary, the events in
#                   build/run/events.json, a page in build/run/report.html
#   make deb        a Debian package, build/imapwatch_VERSION_ARCH.deb
#   make test       build, then run every test twice: normal build and
#                   AddressSanitizer + UndefinedBehaviorSanitizer build
#   make bench      benchmark against a bare libpcap loop and tshark
#   make bench-hostile  crafted attack captures against random controls
#   make fuzz       build the libFuzzer harnesses (clang) and run each briefly
#   make install    PREFIX=/usr/local DESTDIR=
#
# Missing Debian packages are installed with apt-get on first use (as root).

PREFIX	?= /usr/local
DESTDIR	?=
CC	?= cc
B	?= build
PYTHON	?= /usr/bin/python3

PKGS	 = libpcap openssl json-c zlib hiredis
WARN	 = -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes \
	   -Wmissing-prototypes -Wno-unused-parameter
OPT	?= -O2 -g
SAN	?=
# The engine's stages, in pipeline order (README.md, "Design"): each
# folder holds its sources and its own headers; include/ holds what every
# stage shares, analyzer/common/ the code behind it.  make check-layers
# (tests/t_layers.py, also in make test) keeps includes and calls going
# one way, but for the backward uses tests/layers.allow still lists.
STAGES	 = analyzer/run analyzer/capture analyzer/decode analyzer/flow \
	   analyzer/session dissectors analyzer/correlate analyzer/output
HDR_DIRS = include $(STAGES)
# A worker's state is _Thread_local (analyzer/run/workers.h): reached as
# cheaply as a global, since the library only ever goes into executables.
TLS	 = -ftls-model=local-exec
CFLAGS	+= $(OPT) $(WARN) -std=gnu11 -D_GNU_SOURCE $(HDR_DIRS:%=-I%) \
	   -I$(B)/gen $(shell pkg-config --cflags $(PKGS) 2>/dev/null) $(SAN) \
	   $(TLS)
LDLIBS	+= $(shell pkg-config --libs $(PKGS) 2>/dev/null) $(SAN)

# Everything but main() goes into a library the tests link against.
LIB_SRC	 = $(filter-out analyzer/run/main.c,$(wildcard analyzer/*/*.c)) \
	   $(wildcard dissectors/*.c)
LIB_OBJ	 = $(LIB_SRC:%.c=$(B)/%.o)
GEN	 = $(B)/gen/cipher_suites.h
UNIT_SRC = $(wildcard tests/unit/test_*.c)
UNIT_BIN = $(UNIT_SRC:tests/unit/%.c=$(B)/tests/%)
TOOL_SRC = $(wildcard tests/tools/*.c)
TOOL_BIN = $(TOOL_SRC:tests/tools/%.c=$(B)/tests/%)
# the crafted-capture generator of the hostile benchmark and its tests
HOSTILE_SRC = $(wildcard tests/hostile/*.c)
HOSTILE_BIN = $(B)/tests/gen_hostile

.PHONY: all deps test-deps run test check check-layers unit bench bench-hostile fuzz \
	install clean deb

all: deps
	@$(MAKE) --no-print-directory imapwatch

# ---- Debian packages ----
BUILD_DEBS = gcc make pkg-config libpcap-dev libssl-dev libjson-c-dev python3 \
	     zlib1g-dev libhiredis-dev libjemalloc-dev
TEST_DEBS  = tshark tcpdump python3 python3-scapy python3-jsonschema \
	     iproute2 dovecot-imapd curl openssl procps valgrind clang \
	     libclang-rt-14-dev rsyslog redis-server logrotate groff-base \
	     man-db systemd libcap2-bin fonts-dejavu-core chromium debootstrap \
	     tcpreplay
RUN_DEBS   = jq
DEB_DEBS   = build-essential dpkg-dev debhelper lintian

define apt_install
	@missing=""; for p in $(1); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "ok installed" \
	    || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  echo "installing Debian packages:$$missing"; \
	  echo "wireshark-common wireshark-common/install-setuid boolean false" \
	    | debconf-set-selections 2>/dev/null; \
	  log=$$(mktemp); \
	  DEBIAN_FRONTEND=noninteractive apt-get update -qq >$$log 2>&1 && \
	  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
	    --no-install-recommends $$missing >>$$log 2>&1 \
	    || { tail -20 $$log; rm -f $$log; \
	      echo "apt-get install failed:$$missing"; exit 1; }; \
	  rm -f $$log; \
	fi
endef

deps:
	@pkg-config --exists $(PKGS) 2>/dev/null || true
	$(call apt_install,$(BUILD_DEBS))

# ECS's field definitions for tests/t_ecs_fields.py: npm's @elastic/ecs at
# the ECS version we declare (Debian 12's npm package brings node too;
# a node that came with its own npm is used as it is)
ECS_NPM = @elastic/ecs@8.11.5

test-deps: deps
	$(call apt_install,$(TEST_DEBS) $(DEB_DEBS) $(RUN_DEBS))
	@command -v npm >/dev/null 2>&1 || { \
	  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
	    --no-install-recommends npm >/dev/null || exit 1; }
	@grep -qs '"version": "8.11.5"' \
	    build/npm/node_modules/@elastic/ecs/package.json || \
	  npm install --silent --no-audit --no-fund --prefix build/npm \
	    $(ECS_NPM) >/dev/null

# ---- build ----
imapwatch: build/imapwatch
	cp build/imapwatch imapwatch

# The program's allocator is jemalloc where it is installed (BUILD_DEBS
# brings it): events are many small json-c trees built by one worker and
# freed by another, which glibc's arenas handle badly (README, Speed).
# Sanitizer builds keep the allocator their runtime brings.
MALLOC_LIBS = $(if $(SAN),,$(shell pkg-config --libs jemalloc 2>/dev/null))

$(B)/imapwatch: $(B)/analyzer/run/main.o $(B)/libimapwatch.a
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(LDLIBS) $(MALLOC_LIBS)

$(B)/libimapwatch.a: $(LIB_OBJ)
	rm -f $@
	ar rcs $@ $^

$(B)/gen/cipher_suites.h: dissectors/tls-parameters-4.csv \
    dissectors/gen_cipher_suites.py
	@mkdir -p $(dir $@)
	$(PYTHON) dissectors/gen_cipher_suites.py \
	    dissectors/tls-parameters-4.csv $@

$(B)/%.o: %.c $(wildcard $(HDR_DIRS:%=%/*.h)) $(GEN)
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) -c -o $@ $<

$(B)/tests/%: tests/unit/%.c tests/unit/harness.c $(wildcard tests/unit/*.h) \
    $(B)/libimapwatch.a
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) $(LDFLAGS) -Itests/unit -o $@ $< \
	    tests/unit/harness.c $(B)/libimapwatch.a $(LDLIBS)

$(B)/tests/%: tests/tools/%.c $(B)/libimapwatch.a
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) $(LDFLAGS) -o $@ $< $(B)/libimapwatch.a \
	    $(LDLIBS)

$(HOSTILE_BIN): $(HOSTILE_SRC) $(wildcard tests/hostile/*.h)
	@mkdir -p $(dir $@)
	$(CC) $(OPT) $(WARN) -std=gnu11 $(SAN) -o $@ $(HOSTILE_SRC) -lz

unit: $(UNIT_BIN) $(TOOL_BIN) $(HOSTILE_BIN)

# ---- a first run: what imapwatch finds, in at most 60 lines ----
# A few of pcaps/, chosen so that the summary is true: every dovecot
# capture talks to 10.77.0.1, and merging them all would report STARTTLS
# stripping and certificate changes between lab set-ups that never
# happened.  These keep one configuration a server (10.77.0.1:143 offers
# STARTTLS without LOGINDISABLED, 10.77.0.1:993 is IMAPS, [fd77::1]:143
# has no STARTTLS) and show cleartext LOGIN, STARTTLS used and abused,
# weak TLS and an expired certificate.  tests/t_run.sh checks that their
# findings merged are those of each alone, and that all are named.
RUN_PCAPS = dovecot-nostarttls-ipv6-login dovecot-cleartext-login \
	    dovecot-id-starttls dovecot-starttls-command-injection \
	    dovecot-imaps-adh dovecot-cert-expired
RUN_OUT	  = build/run

run:
	$(call apt_install,$(BUILD_DEBS) $(RUN_DEBS))
	@$(MAKE) -s --no-print-directory imapwatch
	@mkdir -p $(RUN_OUT) && rm -f $(RUN_OUT)/events.json
	@echo "== imapwatch --summary, $(words $(RUN_PCAPS)) captures of pcaps/:"\
	    "$(RUN_PCAPS)" | fold -s -w 100
	@./imapwatch --summary -o $(RUN_OUT)/events.json \
	    --report $(RUN_OUT)/report.html $(RUN_PCAPS:%=-r pcaps/%.pcap)
	@echo; echo "== all $$(wc -l <$(RUN_OUT)/events.json) events (EVE, one" \
	    "JSON object a line): $(RUN_OUT)/events.json; the alerts:"
	@echo "   jq -c 'select(.event_type==\"alert\") | [.alert.signature," \
	    ".src_ip, .dest_ip, .imap.username]' $(RUN_OUT)/events.json"
	@echo "   (more in README.md, \"Reading the events\"); the same as a" \
	    "page for a browser: $(RUN_OUT)/report.html"

# ---- tests: normal build, then ASan+UBSan build ----
# Each with one worker, then the capture tests again with four
# (tests/run.sh BUILD@4), then ThreadSanitizer over four workers.
SANFLAGS = -fsanitize=address,undefined -fno-sanitize-recover=all \
	   -fno-omit-frame-pointer
TSANFLAGS = -fsanitize=thread

test: test-deps
	@$(MAKE) --no-print-directory all unit >/dev/null
	@$(MAKE) --no-print-directory B=build-asan OPT="-O1 -g" \
	    SAN="$(SANFLAGS)" build-asan/imapwatch unit >/dev/null
	@$(MAKE) --no-print-directory B=build-tsan OPT="-O1 -g" \
	    SAN="$(TSANFLAGS)" build-tsan/imapwatch unit >/dev/null
	@tests/run.sh build build-asan build@4 build-asan@4 build-tsan

check-layers: all
	IW_BUILD=$(B) python3 tests/t_layers.py

check: test

bench: deps
	@$(MAKE) --no-print-directory all
	@tests/bench/run.sh

# crafted captures against a control of the same size (tests/hostile/)
bench-hostile: deps
	@$(MAKE) --no-print-directory all $(HOSTILE_BIN)
	@tests/hostile/run.sh

# libFuzzer harnesses built with clang in build-fuzz/, FUZZ_SECONDS each;
# FUZZ_AFL=1 also AFL++ (tests/fuzz/README.md)
fuzz: test-deps
	$(if $(filter 1,$(FUZZ_AFL)),$(call apt_install,afl++))
	@tests/fuzz/run.sh

# PREFIX/bin/imapwatch, the man page, and contrib/ (systemd unit with the
# binary's path filled in, logrotate snippet, samples) under share/doc.
BINDIR	 = $(PREFIX)/bin
MANDIR	 = $(PREFIX)/share/man
DOCDIR	 = $(PREFIX)/share/doc/imapwatch

install: all
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(MANDIR)/man1 \
	    $(DESTDIR)$(DOCDIR)
	install -m 755 imapwatch $(DESTDIR)$(BINDIR)/imapwatch
	install -m 644 imapwatch.1 $(DESTDIR)$(MANDIR)/man1/imapwatch.1
	sed 's|/usr/local/bin/imapwatch|$(BINDIR)/imapwatch|g' \
	    contrib/imapwatch.service >$(DESTDIR)$(DOCDIR)/imapwatch.service
	chmod 644 $(DESTDIR)$(DOCDIR)/imapwatch.service
	install -m 644 contrib/imapwatch.logrotate \
	    contrib/imapwatch.conf.sample contrib/suppress.sample README.md \
	    $(DESTDIR)$(DOCDIR)/

clean:
	rm -rf build build-asan build-tsan build-fuzz imapwatch

# ---- a Debian package: build/imapwatch_VERSION_ARCH.deb ----
# Built by dpkg-buildpackage (debian/, debhelper, dpkg-buildflags
# hardening) in a copy of the tree under build/deb, so that nothing is
# written beside the checkout; debian/changelog is written there from
# IW_VERSION (include/iw.h), the one place the version is kept.  lintian
# checks the result; its report is build/deb/lintian.txt.
DEB_VERSION = $(shell sed -n 's/^\#define IW_VERSION "\(.*\)"/\1/p' \
		include/iw.h)
DEB_ARCH    = $(shell dpkg --print-architecture 2>/dev/null)
DEB_OUT	    = build/deb
DEB_FILE    = build/imapwatch_$(DEB_VERSION)_$(DEB_ARCH).deb
DEB_MAINT   = $(shell sed -n 's/^Maintainer: //p' debian/control)

deb:
	$(call apt_install,$(BUILD_DEBS) $(DEB_DEBS))
	@rm -rf $(DEB_OUT) && mkdir -p $(DEB_OUT)/src
	@tar -c --exclude=./build --exclude=./build-asan --exclude=./build-tsan --exclude=./build-fuzz \
	    --exclude=./.git --exclude=./imapwatch --exclude='*.deb' . | \
	    tar -x -C $(DEB_OUT)/src
	@d=$$(git log -1 --format=%cD 2>/dev/null || date -R); \
	printf '%s\n' "imapwatch ($(DEB_VERSION)) unstable; urgency=medium" "" \
	    "  * imapwatch $(DEB_VERSION) (see README.md and schema/EVENTS.md)." \
	    "" " -- $(DEB_MAINT)  $$d" >$(DEB_OUT)/src/debian/changelog
	@echo "dpkg-buildpackage -b -us -uc (log: $(DEB_OUT)/build.log)"
	@cd $(DEB_OUT)/src && dpkg-buildpackage -b -us -uc >../build.log 2>&1 \
	    || { tail -40 ../build.log; echo "dpkg-buildpackage failed"; exit 1; }
	@lintian --display-level '>=pedantic' --show-overrides \
	    $(DEB_OUT)/imapwatch_$(DEB_VERSION)_$(DEB_ARCH).changes \
	    >$(DEB_OUT)/lintian.txt 2>&1; \
	if grep -q '^[EW]: ' $(DEB_OUT)/lintian.txt; then \
	    cat $(DEB_OUT)/lintian.txt; echo "lintian: errors or warnings"; \
	    exit 1; fi
	@cp $(DEB_OUT)/imapwatch_$(DEB_VERSION)_$(DEB_ARCH).deb $(DEB_FILE)
	@echo "$(DEB_FILE); lintian: no error or warning," \
	    "$$(grep -c '^[IP]: ' $(DEB_OUT)/lintian.txt) info or pedantic" \
	    "tags, $$(grep -c '^O: ' $(DEB_OUT)/lintian.txt) overridden" \
	    "($(DEB_OUT)/lintian.txt)"

# ---- the captures of real software in pcaps/dovecot-* (root; not run by make test) ----
captures: test-deps ; tests/captures/make-captures.sh
