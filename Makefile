# SPDX-License-Identifier: GPL-2.0
#
# ublk_drv, reworked: driver, uapi header, io_uring prerequisites and
# selftests, developed out of tree against Debian's linux-source-6.12.
#
#   make                  build drivers/block/ublk/ublk_drv.ko against the
#                         cached test kernel (built on first use)
#   make KDIR=<dir>       ... against your own 6.12 kernel build directory
#   make check            everything CI checks (see README)
#   make check-distro     the kselftests on Debian's own 6.12 kernel with our
#                         module built against its headers (not in make check)
#   make check-plain      6.12 built here without patches/base: GET_FEATURES
#                         compared with the test kernel's, the distro smoke
#                         tests (not in make check)
#   make stress           the kill -9 / recover loops, STRESS_CYCLES (200)
#                         cycles per recovery mode (not in make check)
#   make fuzz             ublk_fuzz on the debug kernel, FUZZ_OPS operations
#                         from FUZZ_SEED, FUZZ_TIME s at most (not in make check)
#   make fuzz-short       a minute of fixed seeds, then a null and a loop check
#   make run              boot a guest, serve a ublk device with kublk and
#                         run a verified fio job on it
#   make shell            an interactive guest (FLAVOUR=test|debug)
#   make deb              ublk-drv-dkms_<version>_all.deb, our module for dkms
#   make deb-check        build it, dkms-build it in private trees against
#                         Debian's 6.12 headers, boot that kernel with it
#   make bench            fio IOPS: null_blk, stock and our ublk_drv (README)
#   make profile          perf profile of stock and our driver side by side
#   make series           the project as a patch series against 6.12, in
#                         patches/series/ (README, "The patch series")
#   make series-check     checkpatch and a W=1 build after every patch of it
#                         (not in make check)
#   make series-send-dry-run
#                         git send-email --dry-run over it: the mails' headers
#   make series-guest     git am it on a clean 6.12, boot that tree as the
#                         debug guest, run the suite with its own ublk_drv
#   make kernel           build the test and debug guest kernels
#   make selftests        build kublk and the selftests on the host
#   make headers          usr/include/ from our include/uapi/
#   make clean

TOP := $(abspath $(dir $(lastword $(MAKEFILE_LIST))))
UBLK_CACHE ?= $(HOME)/.cache/ublk-dev
export UBLK_CACHE
FLAVOUR ?= test
MODULE ?= ours
TIMEOUT ?= 1800

# Where the kernel module is built.  By default in place, against the
# cached test kernel; MODDIR builds a copy elsewhere, so that one checkout
# can hold modules for several kernels (scripts/vm.sh uses this).  Always
# with -g: the drgn state dump needs the module's DWARF, and -g does not
# change the code.
KDIR ?= $(shell $(TOP)/scripts/kernel.sh build $(FLAVOUR))
MODSRC := $(TOP)/drivers/block/ublk
ifneq ($(MODDIR),)
MODBUILD := $(MODDIR)/drivers/block/ublk
else
MODBUILD := $(MODSRC)
endif

.PHONY: all module module-path kernel check check-distro check-plain stress fuzz fuzz-short run shell bench \
	profile selftests selftests-prep headers deb deb-check series series-check \
	series-send-dry-run series-guest clean help

all: module

help:
	@sed -n '3,34s/^# \{0,1\}//p' $(TOP)/Makefile

module:
	@test -f $(MODSRC)/Makefile || \
		{ echo "make: no driver sources in drivers/block/ublk yet" >&2; exit 1; }
ifneq ($(MODDIR),)
	@mkdir -p $(MODDIR)
	@rsync -a --delete --exclude '*.o' --exclude '*.ko' --exclude '.*.cmd' \
		--exclude '*.mod*' --exclude 'modules.order' --exclude 'Module.symvers' \
		$(TOP)/drivers $(TOP)/include $(MODDIR)/
endif
	$(MAKE) -C $(KDIR) M=$(MODBUILD) CONFIG_BLK_DEV_UBLK=m \
		KCFLAGS="-g $(KCFLAGS)" \
		$(if $(W),W=$(W)) $(if $(C),C=$(C)) modules

module-path:
	@echo $(MODBUILD)/ublk_drv.ko

kernel:
	$(TOP)/scripts/kernel.sh build test
	$(TOP)/scripts/kernel.sh build debug

# usr/include/ holds our uapi header as userspace sees it, as "make
# headers" does in a kernel tree; the selftests build against it.
headers: $(TOP)/usr/include/linux/ublk_cmd.h

$(TOP)/usr/include/linux/ublk_cmd.h: $(TOP)/include/uapi/linux/ublk_cmd.h
	@mkdir -p $(dir $@)
	sed -E 's@#(ifndef|define|endif[[:space:]]*/[*])[[:space:]]*_UAPI@#\1 @' $< > $@

# kselftest's lib.mk and runner come from the 6.12 source; link them in
# so tools/testing/selftests/ublk works here as it does in a kernel tree.
KSFT_SHARED := lib.mk kselftest kselftest.h kselftest_harness.h

# A fresh machine has none of the packages: the 6.12 source (for lib.mk)
# and liburing-dev come first, so every target built on this one works
# there (fuzz, check-distro, series-guest, ...).
selftests-prep: $(if $(wildcard $(TOP)/include/uapi/linux/ublk_cmd.h),headers)
	@$(TOP)/scripts/deps.sh kernel tests
	@src=$$($(TOP)/scripts/kernel.sh src) && \
	for f in $(KSFT_SHARED); do \
		ln -sfn $$src/tools/testing/selftests/$$f \
			$(TOP)/tools/testing/selftests/$$f; \
	done

selftests: selftests-prep
	$(MAKE) -C $(TOP)/tools/testing/selftests/ublk

check:
	$(TOP)/scripts/check.sh

# The kselftests (CHECK_TESTS, default all) on Debian's linux-image-6.12
# (scripts/vm.sh -k distro), our module (MODULE=stock: Debian's) built
# against its linux-headers package: the merged TAP, then "N passed, N
# failed, N skipped".  Logs in $(UBLK_CACHE)/check/distro-<date>/.
check-distro: selftests
	@$(TOP)/scripts/deps.sh distro vm tests
	@mkdir -p $(UBLK_CACHE)/check && \
	logs=$$(mktemp -d $(UBLK_CACHE)/check/distro-$$(date +%Y%m%d-%H%M%S)-XXXX) && \
	{ $(TOP)/scripts/suite.sh -k distro -m $(MODULE) -o $$logs/suite \
		-- $(CHECK_TESTS); echo $$? > $$logs/suite.rc; } | tee $$logs/suite.out; \
	grep -E '^(not )?ok [0-9]+ selftests:' $$logs/suite.out > $$logs/kselftest.tap; \
	echo "# logs in $$logs"; \
	$(TOP)/scripts/tap-summary.sh $$logs/kselftest.tap && \
		test "$$(cat $$logs/suite.rc)" = 0

# The DKMS package (scripts/deb.sh, packaging/): into DEB_OUT, by default
# the checkout's top; its version is UBLK_DRV_VERSION in main.c.
DEB_OUT ?= $(TOP)
deb:
	@$(TOP)/scripts/deps.sh deb
	@$(TOP)/scripts/deb.sh -o $(DEB_OUT)

# The package under dkms in private trees, then on Debian's kernel in a
# guest (scripts/deb-test.sh); logs in $(UBLK_CACHE)/deb-check/<date>/.
deb-check:
	$(TOP)/scripts/deb-test.sh

# The kill loops of "make check" (5 cycles each there), longer: through
# check.sh on the debug kernel, with the per-test time limit raised to
# fit (about 10 s a cycle under emulation, doubled).
STRESS_TESTS ?= test_stress_05.sh test_stress_06.sh test_stress_07.sh
STRESS_CYCLES ?= 200
STRESS_TEST_TIMEOUT = $(shell echo $$(($(STRESS_CYCLES) * 20 + 300)))
stress:
	CHECK_TESTS="$(STRESS_TESTS)" CHECK_SKIP_HARNESS=1 \
	CHECK_ENV="UBLK_STRESS_CYCLES=$(STRESS_CYCLES) kselftest_override_timeout=$(STRESS_TEST_TIMEOUT)" \
	CHECK_TIMEOUT=$(shell echo $$(($(STRESS_TEST_TIMEOUT) * 3 + 600))) \
		$(TOP)/scripts/check.sh

# The long fuzz.  The short one is the kselftest test_fuzz_01.sh (make
# fuzz-short runs it alone).
# FUZZ_SEED defaults to the clock; a failure prints the seed and the last
# operations, and "make fuzz FUZZ_SEED=<it> FUZZ_OPS=<op + 1>" replays it.
# The guest's limit leaves room for the end's checks and dmesg.  FUZZ_ARGS:
# more ublk_fuzz options (-x COMMAND to get past a bug found, -d, -v).
# Control commands left in flight at the end get scripts/fuzz-stuck.sh
# (stacks and the drgn dump, into the run's directory).  After the run,
# test_fuzz_01.sh (its seeds a second each) checks that the driver still
# works: a null device serves fio, a loop device passes fio's verify,
# and the module unloads and loads again.
FUZZ_OPS ?= 1000000
FUZZ_SEED ?= $(shell date +%s)
FUZZ_TIME ?= 3600
FUZZ_DIR := tools/testing/selftests/ublk
fuzz: selftests
	@$(TOP)/scripts/deps.sh vm
	$(TOP)/scripts/vm.sh -k debug -t $(shell echo $$(($(FUZZ_TIME) + 1200))) \
		-e UBLK_FUZZ_STUCK_HOOK=$(TOP)/scripts/fuzz-stuck.sh -- /bin/sh -c \
		'$(FUZZ_DIR)/ublk_fuzz -s $(FUZZ_SEED) -n $(FUZZ_OPS) -T $(FUZZ_TIME) $(FUZZ_ARGS) && \
		 UBLK_FUZZ_SECS=4 $(FUZZ_DIR)/test_fuzz_01.sh'

fuzz-short: selftests
	@$(TOP)/scripts/deps.sh vm
	$(TOP)/scripts/vm.sh -k debug -t 900 -- $(FUZZ_DIR)/test_fuzz_01.sh

run:
	$(TOP)/scripts/run.sh

shell:
	@$(TOP)/scripts/deps.sh kernel vm
	$(TOP)/scripts/vm.sh -k $(FLAVOUR) -m $(MODULE) shell

bench:
	$(TOP)/scripts/bench.sh $(BENCH_ARGS)

profile:
	$(TOP)/scripts/profile.sh $(PROFILE_ARGS)

# The patch series (scripts/series.sh, patches/series.d/): written to
# patches/series/, which is committed; series-check applies and builds it
# patch by patch (scripts/series-check.sh), series-send-dry-run shows
# the mails (scripts/series-send.sh; it never sends).
series:
	@$(TOP)/scripts/deps.sh kernel series
	$(TOP)/scripts/series.sh

series-check:
	@$(TOP)/scripts/deps.sh kernel series
	$(TOP)/scripts/series-check.sh

series-send-dry-run:
	@$(TOP)/scripts/deps.sh series
	$(TOP)/scripts/series-send.sh

# the series with git am on a clean 6.12, built as the guest kernel, and
# the suite on it with the tree's own ublk_drv (scripts/series-guest.sh)
series-guest: selftests
	@$(TOP)/scripts/deps.sh kernel series
	$(TOP)/scripts/series-guest.sh $(SERIES_GUEST_TESTS)

check-plain: selftests
	@$(TOP)/scripts/deps.sh kernel series distro vm tests
	$(TOP)/scripts/plain-check.sh $(PLAIN_TESTS)

clean:
	rm -f $(MODSRC)/*.o $(MODSRC)/*.ko $(MODSRC)/*.mod $(MODSRC)/*.mod.c \
		$(MODSRC)/.*.cmd $(MODSRC)/modules.order $(MODSRC)/Module.symvers
	-$(MAKE) -C $(TOP)/tools/testing/selftests/ublk clean 2>/dev/null
	rm -rf $(TOP)/usr
	rm -f $(TOP)/ublk-drv-dkms_*.deb
