# Top-level Makefile: delegates. Settings live in mk/common.mk, the stack in ops/.
PARTS := lib tenantd routing billing media tests

.PHONY: all deps run stop test asan fuzz bench demo clean web $(PARTS)

all: $(PARTS) web
$(PARTS):
	@$(MAKE) -s -C $@
tenantd routing billing: lib
tenantd routing: billing
media: lib
tests: lib routing billing media
# the browser's SIP stack (tenantd/web), one script bundled by esbuild from
# the npm packages make deps installed (tenantd/web/package-lock.json)
WEB_SRC := $(wildcard tenantd/web/src/*)
web: build/web/.made
# the sanitizer build's tenantd looks for its page beside itself (build-asan/web)
ifdef SAN
	@mkdir -p build-asan && ln -sfn ../build/web build-asan/web
endif
build/web/.made: $(WEB_SRC) tenantd/web/package-lock.json tenantd/web/package.json
	@test -x tenantd/web/node_modules/.bin/esbuild || { echo "web: tenantd/web/node_modules is missing: run make deps" >&2; exit 1; }
	@cd tenantd/web && npm run -s build
	@touch $@

deps:
	@ops/deps.sh

run: deps all
	@ops/stack.sh start
	@ops/stack.sh info

stop:
	@ops/stack.sh stop

test: deps
	@$(MAKE) -s all
	@tests/run.sh

asan: deps
	@$(MAKE) -s all SAN=1
	@SAN=1 tests/run.sh

# libFuzzer targets, FUZZ_SECONDS (600) each (tests/fuzz/Makefile)
fuzz: deps
	@$(MAKE) -s -C tests/fuzz run

bench: deps all
	@ops/bench/run.sh
	@ops/bench/scale.sh
	@ops/bench/billing.sh
	@ops/bench/decision.sh
	@ops/bench/media.sh
	@ops/bench/recording.sh
	@ops/bench/acd.sh
	@ops/bench/lookup.sh
	@ops/bench/desk.sh
	@build/tests/bench_events
	@build/tests/bench_reccrypt

demo:
	@ops/demo.sh

clean:
	rm -rf build build-asan build-fuzz
