#!/usr/bin/env bash
# The method comparison behind docs/evidence.md, in one call.
#
#   bench/evidence.sh cpu [OUT]   what docs/evidence.md reports: SmolLM2-135M-Instruct on this CPU, en→de
#                                 Django translations (96 train / 50 held out), radis and supervised then
#                                 sdft and seqkd, 2 seeds, 1 epoch (12 steps), 16 items per probe (about 1.5 h
#                                 on 2 cores)
#   bench/evidence.sh gpu [OUT]   the same comparison sized for a GPU (bf16 is picked automatically there):
#                                 en→de and en→zh (two directions, scored apart), 3 seeds, 2 epochs, 100 items
#                                 per probe and the 128-token translation budget
#
# Rationales, teacher texts and the base evaluation are computed once (caches); a second call with the
# same OUT continues where an interrupted one stopped. Results: OUT/comparison.md and comparison.json.
set -euo pipefail
cd "$(dirname "$0")/.."
mode=${1:-cpu}
out=${2:-runs/evidence-$mode}
py=.venv/bin
[ -x "$py/radis-core" ] || scripts/bootstrap.sh
mkdir -p "$out/data"
echo "CPU: $(lscpu | sed -n 's/^Model name: *//p')"
command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi --query-gpu=name,memory.total --format=csv,noheader || true

case "$mode" in
  cpu)
    "$py/radis-core" demo-data --out "$out/data" --lang de --n-train 96 --n-valid 50
    common=(--train "$out/data/train.jsonl" --valid "$out/data/valid.jsonl" --seeds 2 --out "$out"
      --hp n_epochs=1 --hp max_seq_len=320 --set evaluation.max_new_tokens=64 --device cpu)
    # radis and supervised first: the comparison the product stands on, available early.
    "$py/radis-core" compare --methods radis,supervised "${common[@]}"
    "$py/radis-core" compare --methods radis,supervised,sdft,seqkd "${common[@]}"
    ;;
  gpu)
    for lang in de zh; do
      "$py/radis-core" demo-data --out "$out/data/$lang" --lang "$lang" --n-train 144 --n-valid 50
    done
    cat "$out"/data/{de,zh}/train.jsonl > "$out/data/train.jsonl"
    cat "$out"/data/{de,zh}/valid.jsonl > "$out/data/valid.jsonl"
    "$py/radis-core" compare --methods radis,supervised,sdft,seqkd --seeds 3 \
      --train "$out/data/train.jsonl" --valid "$out/data/valid.jsonl" --out "$out" --device cuda \
      --hp n_epochs=2 --hp batch_size=16 --set evaluation.max_probe_items=100 --set evaluation.batch_size=64 \
      --set rationale.batch_size=64 --set rewrite.batch_size=64 --set teacher.batch_size=64
    ;;
  *)
    echo "usage: bench/evidence.sh cpu|gpu [OUT]" >&2
    exit 2
    ;;
esac
echo "comparison: $out/comparison.md"
