# The README's two commands. `make run` builds and starts radix on the bundled default
# model; `make test` builds and runs the whole CPU test suite.
BUILD ?= build
JOBS ?= $(shell nproc)
CMAKE_FLAGS ?=

.PHONY: deps configure build run test clean

deps:
	@bash scripts/install-deps.sh

configure: deps
	@cmake -S . -B $(BUILD) -G Ninja $(CMAKE_FLAGS) >/dev/null

build: configure
	@cmake --build $(BUILD) -j $(JOBS)

run: build
	@echo "radix: serving models/default on http://127.0.0.1:30000 (more examples: README.md); try:"
	@echo "  curl localhost:30000/v1/completions -H 'Content-Type: application/json' -d '{\"prompt\":\"Hello\",\"max_tokens\":16}'"
	./$(BUILD)/radix serve --model-path models/default --host 127.0.0.1 --port 30000

test: build
	@bash scripts/test-setup.sh
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS)

clean:
	rm -rf $(BUILD)
