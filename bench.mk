# Benchmark targets, included from the Makefile (after VENV, BIN and STAMP are defined).
#
# `make bench` measures ProgImage's imaging core against pyvips, thumbor's PIL engine and naive
# Pillow (see bench/README.md); `make bench-quick` is a smoke run on small inputs. The peers are
# dev-only: they go into the dev venv from the locks of bench/requirements*.txt (`make lock`,
# at the dev lock's versions where they meet), never into the service.

BENCH_STAMP := $(VENV)/.bench-installed
BENCH_ARGS ?=

.PHONY: bench bench-quick

$(BENCH_STAMP): $(STAMP) bench/requirements.lock bench/requirements-nodeps.lock
	$(BIN)/pip install --quiet --require-hashes --no-deps -r bench/requirements.lock
	$(BIN)/pip install --quiet --require-hashes --no-deps -r bench/requirements-nodeps.lock
	touch $@

bench: $(BENCH_STAMP)
	$(BIN)/python -m bench $(BENCH_ARGS)

bench-quick: $(BENCH_STAMP)
	$(BIN)/python -m bench --quick $(BENCH_ARGS)

# A 1,000-image job through the local server beside a sequential Pillow loop (bench/jobs.py).
bench-jobs: $(STAMP)
	$(BIN)/python -m bench.jobs $(BENCH_ARGS)

# Peak memory of every operation at full size (bench/footprint.py); import times and cache-hit
# handler times of every function (bench/coldstart.py).
bench-footprint: $(STAMP)
	$(BIN)/python -m bench.footprint $(BENCH_ARGS)

bench-coldstart: $(STAMP)
	$(BIN)/python -m bench.coldstart $(BENCH_ARGS)

# What the upload path's completeness check (imaging/integrity.py) costs against inspect().
bench-integrity: $(STAMP)
	$(BIN)/python -m bench.integrity $(BENCH_ARGS)

# The render cost model's estimates beside measured time and memory (bench/budget.py); fails if
# an estimate undershoots by more than 30 %. BENCH_ARGS="--megapixels 24 --drawn 50" to widen.
bench-budget: $(STAMP)
	$(BIN)/python -m bench.budget $(BENCH_ARGS)

# How much the local server's concurrent SQS batches save, and how long stopping it takes
# (bench/localserver.py).
bench-localserver: $(STAMP)
	$(BIN)/python -m bench.localserver $(BENCH_ARGS)

# What uploads, variant misses and hits, and a month of storage cost on AWS, from measured
# handler times, the template's MemorySize and the dated prices in bench/prices.py (bench/cost.py).
bench-cost: $(STAMP)
	$(BIN)/python -m bench.cost $(BENCH_ARGS)

# Variant misses and hits through the real handlers on moto, every S3 and DynamoDB call held to
# a latency model of AWS (bench/miss.py, bench/latency.py): calls, round trips, p50/p95, and
# thumbor's miss over HTTP beside them. BENCH_ARGS="--profile express --s3-get-ms 30" to vary.
bench-miss: $(BENCH_STAMP)
	$(BIN)/python -m bench.miss $(BENCH_ARGS)

# PNG decoding by Pillow, libspng (imaging/png.py) and libvips on every kind of PNG, and the
# thumbnail end to end with each (bench/png.py). BENCH_ARGS="--quick" for a smoke run.
bench-png: $(BENCH_STAMP)
	$(BIN)/python -m bench.png $(BENCH_ARGS)

# quality:auto against the fixed default quality on real photos: bytes saved, SSIM reached (and
# scikit-image's beside it), qualities chosen, time (bench/quality.py). --curves: SSIM at every
# quality of the search, what the targets were chosen from.
bench-quality: $(BENCH_STAMP)
	$(BIN)/python -m bench.quality $(BENCH_ARGS)

# HEIC and JPEG XL at 12 MP: decode and encode CPU time as ratios to JPEG's decode, bytes and
# PSNR at the defaults, the plugins' import times, and whether libvips could be compared
# (bench/heic.py). BENCH_ARGS="--megapixels 24" for another size.
bench-heic: $(BENCH_STAMP)
	$(BIN)/python -m bench.heic $(BENCH_ARGS)

# Smart crop's cost at 12 MP and how often it keeps a known subject, beside pyvips' smartcrop
# (bench/smartcrop.py).
bench-smartcrop: $(BENCH_STAMP)
	$(BIN)/python -m bench.smartcrop $(BENCH_ARGS)

.PHONY: bench-smartcrop
.PHONY: bench-jobs bench-footprint bench-coldstart bench-integrity bench-budget bench-localserver
.PHONY: bench-cost bench-miss bench-copies bench-png bench-quality bench-heic

# The working copies an upload makes: bytes stored, upload time, and each output size rendered
# from the original and from each copy, with its PSNR (bench/copies.py).
bench-copies: $(STAMP)
	$(BIN)/python -m bench.copies $(BENCH_ARGS)

# What an upload's placeholders and colours (imaging/summary.py) cost beside admit(): from the
# 1024 px working copy, and from a JPEG decoded with draft to 256 px (bench/placeholders.py).
bench-placeholders: $(STAMP)
	$(BIN)/python -m bench.placeholders $(BENCH_ARGS)

.PHONY: bench-placeholders
