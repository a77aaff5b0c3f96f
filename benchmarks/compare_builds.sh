#!/usr/bin/env bash
# Speed of the pure-Python build and of the compiled (mypyc) build of the same source.
#
#   benchmarks/compare_builds.sh                  # bench_speed.py --rounds 3 in each build
#   benchmarks/compare_builds.sh --rounds 5 --horizon 5
#
# Each build lives in its own virtual environment, installed non-editable from this checkout
# (so the benchmark measures the source as it is now): build/bench-venv-pure and
# build/bench-venv-mypyc, made on first use (PYTHON, default python3, makes them). To use
# environments you installed yourself, set PURE_PY and MYPYC_PY to their interpreters; the
# script then installs nothing. bench_speed.py runs in each, one after the other, and writes
# results/benchmarks/speed-pure.json and results/benchmarks/speed-mypyc.json (OUT_DIR to
# change that); the script stops if a JSON reports the other build. Arguments go to
# bench_speed.py (default --rounds 3). One process at a time: one core for the compiler and
# the benchmark.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
out_dir=${OUT_DIR:-results/benchmarks}
args=("$@")
[[ ${#args[@]} -gt 0 ]] || args=(--rounds 3)

venv_with() { # venv_with DIR [ENV=VALUE ...]: make DIR if needed, install this checkout
    local dir=$1
    shift
    if [[ ! -x $dir/bin/python ]]; then
        "${PYTHON:-python3}" -m venv "$dir" >&2
        env "$@" "$dir/bin/pip" install -q "$root" >&2
    else # rebuilt every time: the benchmark measures the checkout as it is
        env "$@" "$dir/bin/pip" install -q --no-deps --force-reinstall "$root" >&2
    fi
    echo "$dir/bin/python"
}

if [[ -z ${PURE_PY:-} ]]; then
    echo "installing the pure build into build/bench-venv-pure" >&2
    PURE_PY=$(venv_with build/bench-venv-pure HATCH_BUILD_HOOK_ENABLE_MYPYC=0)
fi
if [[ -z ${MYPYC_PY:-} ]]; then
    echo "installing the compiled build into build/bench-venv-mypyc (mypyc, about a minute)" >&2
    # CLEAN_HOOKS_AFTER: the compiler's .so files leave the checkout once they are in the wheel.
    MYPYC_PY=$(venv_with build/bench-venv-mypyc HATCH_BUILD_HOOK_ENABLE_MYPYC=1 \
        HATCH_BUILD_CLEAN_HOOKS_AFTER=1)
fi

mkdir -p "$out_dir"
for build in pure mypyc; do
    if [[ $build == pure ]]; then py=$PURE_PY want=pure; else py=$MYPYC_PY want=compiled; fi
    json=$out_dir/speed-$build.json
    echo "== $build build: $py" >&2
    # -P: never import the checkout's vnetsim/ in place of the installed build.
    "$py" -P benchmarks/bench_speed.py "${args[@]}" --json "$json"
    got=$("$py" -c 'import json, sys; print(json.load(open(sys.argv[1]))["build"]["kind"])' "$json")
    if [[ $got != "$want" ]]; then
        echo "compare_builds: $json reports build '$got', expected '$want'" >&2
        exit 1
    fi
done

# Both ratios divide by the same bare SimPy loop (SimPy is interpreted in both builds), so
# their quotient is the compiled build's speed-up measured in the same units.
"$PURE_PY" - "$out_dir/speed-pure.json" "$out_dir/speed-mypyc.json" <<'EOF'
import json
import sys

pure, mypyc = (json.load(open(p)) for p in sys.argv[1:3])
print("\nframes per CPU second / bare SimPy events per CPU second (median of paired rounds)")
print(f"{'config':<7} {'pure':>8} {'mypyc':>8} {'mypyc / pure':>13}")
for lab, p in pure["ratio_to_bare_cpu"].items():
    m = mypyc["ratio_to_bare_cpu"][lab]
    print(f"{lab:<7} {p['median']:>8.4f} {m['median']:>8.4f} {m['median'] / p['median']:>13.2f}")
EOF
