#!/usr/bin/env bash
# Run banjo's cargo-fuzz targets (fuzz/, docs/FUZZING.md) for a while each and print
# a summary: executions, coverage, findings.
#
#   bench/fuzz.sh [SECONDS] [TARGET...]     default: 600 s each, every target
#   JOBS=2 bench/fuzz.sh 1800               two targets at a time
#
# Long and CPU-bound, so every run is under `nice -n 19`. Findings are written to
# fuzz/artifacts/TARGET/ (FORK=1 below to go on past them). Corpora grow in
# fuzz/corpus/TARGET/ (seeded from fuzz/seeds/TARGET/ and, for fail2ban and syslog,
# the installed fail2ban's files); neither is committed (fuzz/.gitignore): only
# minimised inputs of fixed findings are, in fuzz/regressions/TARGET/
# (`cargo fuzz tmin TARGET ARTIFACT`). Logs: bench/out/fuzz/TARGET.log.
#
# No nightly toolchain: cargo-fuzz passes -Z flags (sanitizer, coverage options), which
# the stable compiler accepts with RUSTC_BOOTSTRAP=1. `-a`: debug assertions on, so
# the engine's twin cross-check (src/filter/engine.rs) runs on every fuzzed match.
# -timeout=30: libFuzzer times wall-clock, and at nice 19 on a busy machine an input
# that takes 0.2 s alone has taken over 10 s; re-run a timeout artifact alone
# (fuzz/target/*/release/TARGET FILE) before calling it a hang.
set -euo pipefail
cd "$(dirname "$0")/.."
SECS=${1:-600}
shift || true
ALL=(config control fail2ban filter_builtin filter_compile filter_injection pipeline syslog)
TARGETS=("$@")
[ ${#TARGETS[@]} -gt 0 ] || TARGETS=("${ALL[@]}")
JOBS=${JOBS:-1}
# FORK=1: libFuzzer's fork mode, which goes on past a crash, timeout or OOM (each is
# written to fuzz/artifacts/TARGET/) but restarts its worker every few seconds, which
# costs the slow targets (config, fail2ban: tenths of a second per input) most of
# their time. FORK=0 (default) runs one process that stops at the first finding.
FORK=${FORK:-0}
SANITIZER=${SANITIZER:-address}
export RUSTC_BOOTSTRAP=1 PATH="$HOME/.cargo/bin:$PATH"
command -v cargo-fuzz >/dev/null || { echo "cargo-fuzz missing: cargo install cargo-fuzz --locked" >&2; exit 2; }
LOGS=bench/out/fuzz
mkdir -p "$LOGS"

# Longest input per target: above the 8 KiB MESSAGE cap where a message is fuzzed.
max_len() {
  case $1 in
    syslog|pipeline|filter_builtin|filter_compile) echo 20000 ;;
    control) echo 70000 ;;
    *) echo 8192 ;;
  esac
}

seed() {
  local t=$1 c=fuzz/corpus/$1
  mkdir -p "$c"
  cp -n fuzz/seeds/"$t"/* "$c"/ 2>/dev/null || true
  if [ -d fuzz/regressions/"$t" ]; then cp -n fuzz/regressions/"$t"/* "$c"/ 2>/dev/null || true; fi
  local f2b=/etc/fail2ban/filter.d logs=/usr/lib/python3/dist-packages/fail2ban/tests/files/logs
  case $t in
    fail2ban) # each installed filter as fuzz.conf, with common.conf beside it
      if [ -d "$f2b" ]; then
        for f in "$f2b"/*.conf; do
          [ -e "$c/f2b-$(basename "$f")" ] && continue
          { cat "$f"; printf '\0'; cat "$f2b/common.conf"; } > "$c/f2b-$(basename "$f")"
        done
      fi ;;
    syslog) # the first lines of each of fail2ban's test logs
      if [ -d "$logs" ]; then
        for f in "$logs"/*; do
          [ -f "$f" ] && [ ! -e "$c/log-$(basename "$f")" ] && { printf '\x07'; head -c 6000 "$f"; } > "$c/log-$(basename "$f")"
        done
      fi ;;
  esac
}

nice -n 19 cargo fuzz build -a -s "$SANITIZER" >/dev/null 2>&1

run_one() {
  local t=$1 log=$LOGS/$1.log
  seed "$t" || true
  mkdir -p fuzz/artifacts/"$t"
  local before; before=$(find fuzz/artifacts/"$t" -type f | wc -l)
  local start; start=$(date +%s)
  local dict=() fork=()
  [ -f fuzz/dicts/"$t".dict ] && dict=(-dict=fuzz/dicts/"$t".dict)
  [ "$FORK" = 1 ] && fork=(-fork=1 -ignore_crashes=1 -ignore_timeouts=1 -ignore_ooms=1)
  nice -n 19 cargo fuzz run -a -s "$SANITIZER" "$t" fuzz/corpus/"$t" -- \
    -max_total_time="$SECS" -max_len="$(max_len "$t")" -timeout=30 -rss_limit_mb=2048 \
    "${dict[@]}" "${fork[@]}" \
    -artifact_prefix=fuzz/artifacts/"$t"/ -print_final_stats=1 </dev/null >"$log" 2>&1 || true
  local took=$(( $(date +%s) - start ))
  local after; after=$(find fuzz/artifacts/"$t" -type f | wc -l)
  # Status lines: fork mode's "#N: cov: C ft: F corp: K exec/s: E oom/timeout/crash:
  # a/b/c time: Ts ...", else libFuzzer's "#N  REDUCE|NEW|pulse|DONE cov: C ft: F corp:
  # K/SIZE ... exec/s: E rss: ...".
  local last; last=$(grep -E '^#[0-9]+:?[[:space:]].*cov:' "$log" | tail -1 || true)
  local execs cov ft corp eps
  execs=$(sed -nE 's/^#([0-9]+).*/\1/p' <<<"$last")
  cov=$(sed -nE 's/.* cov: ([0-9]+).*/\1/p' <<<"$last")
  ft=$(sed -nE 's/.* ft: ([0-9]+).*/\1/p' <<<"$last")
  corp=$(sed -nE 's/.* corp: ([0-9]+).*/\1/p' <<<"$last")
  [ -n "$execs" ] || execs=$(sed -nE 's/^stat::number_of_executed_units: ([0-9]+)/\1/p' "$log" | tail -1)
  eps=$(sed -nE 's/.* exec\/s: ([0-9]+).*/\1/p' <<<"$last")
  local found; found=$(sed -nE 's/.* oom\/timeout\/crash: ([0-9]+\/[0-9]+\/[0-9]+).*/\1/p' <<<"$last")
  if [ "$FORK" != 1 ]; then
    count() { grep -cE "$1" "$log" || true; }
    found="$(count 'ERROR: libFuzzer: out-of-memory')/$(count 'ERROR: libFuzzer: timeout')/$(count 'ERROR: libFuzzer: deadly signal|ERROR: AddressSanitizer')"
  fi
  printf '%-17s %6ss %12s execs %8s/s  cov %6s  ft %7s  corpus %6s  oom/timeout/crash %-9s new artifacts %s\n' \
    "$t" "$took" "${execs:-?}" "${eps:-?}" "${cov:-?}" "${ft:-?}" "${corp:-?}" "${found:-?}" "$((after - before))"
}

echo "target            time          execs     rate   coverage (edges, features)  findings"
running=0
for t in "${TARGETS[@]}"; do
  run_one "$t" &
  running=$((running + 1))
  if [ "$running" -ge "$JOBS" ]; then wait -n || true; running=$((running - 1)); fi
done
wait || true
echo "(noisy, shared machine: rates depend on the load; artifacts in fuzz/artifacts/)"
