# The two commands that matter: `make demo` and `make test`. See README.md.
SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
TESTENV := ./testenv/testenv

.PHONY: demo test lint unit-test integration-test emulator-test crds up down build bench bench-convergence bench-failover bench-rto bench-detection bench-evacuation

## Start the test environment, run the operator, apply examples/pilotlight.yaml and wait until
## it is Ready; then a drill, an approved switchover and a failback. Leaves everything running;
## `make down` stops it.
demo:
	./scripts/demo

## Every check CI runs: formatting, clippy, the three test tiers (unit; integration and
## exclusive against a test environment this target starts and stops itself; each tier fails if
## it ran no test), the IAM policy against the calls those tests made, and the emulator's own
## tests.
test: lint
	@if [ -f .testenv/pids ]; then echo "make test: a test environment is already up; stopping it first"; $(TESTENV) down; fi
	$(TESTENV) up
	trap '$(TESTENV) down' EXIT; \
	  . .testenv/env && \
	  scripts/test-tier unit --lib --bins && \
	  scripts/test-tier integration --test integration && \
	  scripts/test-tier exclusive --test exclusive && \
	  scripts/check-iam-policy && \
	  ./testenv/emulator/run-tests

## Benchmarks that print numbers (see README.md, "Scale and cost").
bench: bench-convergence bench-failover bench-detection

## 200 PilotLights (PILOT_LIGHT_BENCH_PILOTLIGHTS=N for another count) converged by the operator
## binary: time to Ready, peak RSS, steady-state AWS calls per PilotLight-hour. Uses a running
## test environment, or starts one and stops it afterwards.
bench-convergence:
	started=; if [ ! -f .testenv/pids ]; then $(TESTENV) up; started=1; fi; \
	  trap '[ -z "$$started" ] || $(TESTENV) down' EXIT; \
	  . .testenv/env && cargo bench --features testenv --bench convergence

## One PilotLight with every component, the operator in-process: (a) Switchovers with instant
## emulated operations against the same AWS calls replayed in a straight line with the SDK;
## (b) Failover RTO with real-world durations scaled by PILOT_LIGHT_BENCH_SCALE (default 1/20)
## against the seed article's sequential Lambda order. See BENCHMARKS.md. Uses a running test
## environment, or starts one and stops it afterwards.
bench-failover:
	started=; if [ ! -f .testenv/pids ]; then $(TESTENV) up; started=1; fi; \
	  trap '[ -z "$$started" ] || $(TESTENV) down' EXIT; \
	  . .testenv/env && cargo bench --features testenv --bench failover

## The RTO of an unplanned Failover in traffic mode failoverRouting (PILOT_LIGHT_BENCH_SWITCH:
## metricAlarm, the default, or routingControl) with real-world durations x 0.05, against the
## seed article's sequential Lambda measured in the same run and against the floor; then the RTO
## from a person's approval after two (scaled) minutes of deciding, with prewarm; then the RDS
## read replica variant against the first seed's order (BENCHMARKS.md). PILOT_LIGHT_BENCH_PARTS picks parts.
bench-rto:
	started=; if [ ! -f .testenv/pids ]; then $(TESTENV) up; started=1; fi; \
	  trap '[ -z "$$started" ] || $(TESTENV) down' EXIT; \
	  . .testenv/env && PILOT_LIGHT_BENCH_PARTS=$${PILOT_LIGHT_BENCH_PARTS:-bcd} PILOT_LIGHT_BENCH_SCALE=0.05 PILOT_LIGHT_BENCH_TRAFFIC=failoverRouting \
	  cargo bench --features testenv --bench failover $(BENCH_PROFILE)

## Detection latency: the primary's health check failing until the proposed FailoverRequest
## exists, beyond the hold time, for detection intervals of 1 s and 5 s (BENCHMARKS.md). Uses a
## running test environment, or starts one and stops it afterwards.
bench-detection:
	started=; if [ ! -f .testenv/pids ]; then $(TESTENV) up; started=1; fi; \
	  trap '[ -z "$$started" ] || $(TESTENV) down' EXIT; \
	  . .testenv/env && cargo bench --features testenv --bench detection

## One approved Evacuation of 200 Aurora PilotLights (PILOT_LIGHT_BENCH_PILOTLIGHTS=N) during a
## us-east-1 outage, RDS throttled at the operator's budget: time to the last completion, p50/p95
## RTO against one PilotLight evacuated alone, peak requests a second per service, throttled
## answers (BENCHMARKS.md). Uses a running test environment, or starts one and stops it afterwards.
bench-evacuation:
	started=; if [ ! -f .testenv/pids ]; then $(TESTENV) up; started=1; fi; \
	  trap '[ -z "$$started" ] || $(TESTENV) down' EXIT; \
	  . .testenv/env && cargo bench --features testenv --bench evacuation $(BENCH_PROFILE)

lint:
	cargo fmt --check
	cargo clippy --all-targets --features testenv -- -D warnings

## Regenerate crds/ and the chart's copies from the Rust types and deploy/admission/ (a test
## fails when they are stale).
crds:
	cargo run --quiet -- crd --dir crds
	cargo run --quiet -- crd --dir charts/pilot-light/crds
	cp deploy/admission/failoverrequest-approval.yaml deploy/admission/evacuation-approval.yaml deploy/admission/failoverrequest-creator.yaml deploy/admission/pilotlight-traffic-warning.yaml charts/pilot-light/files/

build:
	cargo build

up:
	$(TESTENV) up

down:
	$(TESTENV) down
