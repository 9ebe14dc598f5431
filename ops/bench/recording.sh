#!/usr/bin/env bash
# make bench: the cost of recording. ACD queue calls bridged by mediad,
# SIPp caller and agent playing 20 ms PCMU both ways, without recording
# (the tenant's policy none) and recorded (policy all: two channels, Ogg
# Opus, encrypted, fsynced each second), in one run on one stack: the most
# calls at no late mixer frame and no lost packet for each, their ratio,
# mediad's CPU per call-second and calls per core, and the storage bytes per
# recorded minute (from the recordings' rows). ops/bench/media.sh's modes
# queue and recorded; BENCH_QUEUE_LOADS (20 40 80 160) the loads.
# The encryption throughput beside openssl speed is build/tests/bench_reccrypt.
exec env BENCH_MEDIA_MODES="${BENCH_MEDIA_MODES:-queue recorded}" "$(dirname "$0")/media.sh" "$@"
