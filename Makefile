# pvmig: top-level build.  Each part builds in its own directory; this file
# only ties them together.  `make demo` and `make check` install what they
# need on first use (tools/setup-host.sh), so a fresh Debian 12 works.
TOP     := $(CURDIR)
BUILD   := $(TOP)/build
KVER    ?= $(shell ls /lib/modules 2>/dev/null | grep -E -- '-amd64$$' | sort -V | tail -n 1)
CFLAGS  ?= -O2 -g
USER_CFLAGS := -std=c11 -Wall -Wextra $(CFLAGS)
export BUILD KVER

GUEST   := $(BUILD)/guest
DEPS_STAMP := $(BUILD)/.deps

# The guest kernel that `make module` and `make guest` build for: 6.1, the
# host's Debian 12 kernel (build/guest/), or 6.12, Debian 13's, fetched
# once into the cache by guest/kernels/fetch.sh (build/guest-6.12/).  The
# guest's programs are the same for both: they stay in build/guest/bin.
GUEST_KERNEL ?= 6.1
GUEST_KERNELS := 6.1 6.12
ifeq ($(filter $(GUEST_KERNEL),$(GUEST_KERNELS)),)
$(error GUEST_KERNEL=$(GUEST_KERNEL) is not supported (supported: $(GUEST_KERNELS)))
endif
ifeq ($(GUEST_KERNEL),6.1)
GUEST_OUT := $(GUEST)
else
GUEST_OUT := $(BUILD)/guest-$(GUEST_KERNEL)
endif

.PHONY: all deps qemu qemu-asan qemu10 guest module agent workload hostile sweeper tools unit-tests e2e check lint \
	demo bench bench-latency bench-module fuzz fuzz-coverage soak install deb clean

all: qemu guest tools

# Host packages, the guest kernel and QEMU's build dependencies (idempotent).
deps: $(DEPS_STAMP)
$(DEPS_STAMP): tools/setup-host.sh
	tools/setup-host.sh
	@mkdir -p $(BUILD) && touch $@

qemu: deps
	qemu/build.sh

# The same QEMU with AddressSanitizer and UBSan, for tests/e2e/45-asan-hostile.
qemu-asan: deps
	PVMIG_QEMU_VARIANT=asan qemu/build.sh

# QEMU 10.0 (Debian 13's) with the device, for tests/e2e/48-qemu10.
qemu10: deps
	PVMIG_QEMU_VERSION=10.0 qemu/build.sh

module: deps
	$(MAKE) -C guest/module GUEST_KERNEL=$(GUEST_KERNEL) $(if $(filter 6.1,$(GUEST_KERNEL)),KVER=$(KVER))

agent: deps
	$(MAKE) -C guest/agent

workload: $(GUEST)/bin/pvmig-workload $(GUEST)/bin/pvmig-freeprobe
$(GUEST)/bin/pvmig-%: guest/workload/pvmig-%.c | deps
	@mkdir -p $(dir $@)
	$(CC) $(USER_CFLAGS) -static -o $@ $<

# Test-only: a guest that sends the host malformed and hostile messages.
hostile: $(GUEST)/bin/pvmig-hostile
PROTO_LIB := $(BUILD)/proto/libpvmig_proto.a
$(PROTO_LIB): $(wildcard proto/*.c proto/*.h proto/sources.txt) | deps
	$(MAKE) -C proto $@
$(GUEST)/bin/pvmig-hostile: guest/hostile/pvmig-hostile.c $(PROTO_LIB) | deps
	@mkdir -p $(dir $@)
	$(CC) $(USER_CFLAGS) -static -Iproto -o $@ $< $(PROTO_LIB)

# The bare-metal guest for KVM tests (guest/sweeper/) and its checker.
sweeper: deps
	$(MAKE) -C guest/sweeper

guest: module agent workload hostile sweeper
ifeq ($(GUEST_KERNEL),6.1)
	KVER=$(KVER) guest/image/mkinitramfs.sh $(GUEST)
else
	entry=$$(guest/kernels/fetch.sh $(GUEST_KERNEL)) && kver=$$(cat "$$entry/KVER") && \
	guest/image/mkinitramfs.sh --kernel "$$entry/kernel/boot/vmlinuz-$$kver" \
		--modules-tree "$$entry/kernel/lib/modules/$$kver" --bin $(GUEST)/bin $(GUEST_OUT)
endif

tools: deps
	$(MAKE) -C tools/migrate

unit-tests: deps
	$(MAKE) -C proto check
	$(MAKE) -C guest/agent check
	$(MAKE) -C tools/migrate check

e2e: deps
	tests/check.sh --e2e

# Static checks: cppcheck and clang-tidy (user space), the kernel's and
# QEMU's checkpatch.pl (module, device).  QEMU's comes with its source.
lint: deps qemu
	tools/lint.sh

check: deps
	tests/check.sh

demo: qemu guest tools
	tools/demo.sh

fuzz: deps
	$(MAKE) -C proto fuzz SECONDS=$(or $(SECONDS),60)

# Library coverage reached by the fuzz corpora (run after `make fuzz`).
fuzz-coverage: deps
	$(MAKE) -C proto fuzz-coverage

bench: qemu guest tools
	QUICK=$(QUICK) tools/bench/run.sh

# Hint latency per guest size and scenario (production and verified).
bench-latency: qemu guest tools
	tools/bench/latency.sh

bench-module: qemu guest
	guest/module/bench/run.sh

# N randomized, verified migrations with faults (SEED= replays a run).
soak: qemu guest tools
	N=$(or $(N),20) $(if $(SEED),SEED=$(SEED)) tools/soak/run.sh; rc=$$?; \
	tools/soak/combine.sh bench/results/soak.json bench/results/soak/*.json; exit $$rc

# The guest package (agent, module as DKMS source, unit, udev rule):
# build/deb/pvmig_<version>_<arch>.deb, checked with lintian.
deb: deps
	guest/packaging/build-deb.sh

install:
	$(MAKE) -C guest/agent install DESTDIR=$(DESTDIR)

clean:
	rm -rf $(BUILD)
	-$(MAKE) -C guest/module clean
