# Convenience targets; the scripts do the work (they also run on a machine without make).
.PHONY: main test bench figures build clean
main:
	bash scripts/main.sh
test:
	bash scripts/test.sh
bench:
	bash scripts/bench.sh
figures:
	bash scripts/figures.sh
build:
	swift build -c release
clean:
	rm -rf .build out
