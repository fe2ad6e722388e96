#!/usr/bin/env bash
# The published scale run (docs/benchmarks.md): each size on SQLite, then on PostgreSQL, largest first.
#
#   benchmarks/run_scale.sh                      # sizes 1, 0.1 and 0.01 into ./bench-data
#   SIZES=0.01 benchmarks/run_scale.sh           # the 1 % company only (about a minute)
#
# KPI_BENCH_DATA: folder for the SQLite files and the reports (default ./bench-data; 6.3 GB at size 1);
# KPI_BENCH_PG: PostgreSQL server URL without a database (default postgresql://postgres@127.0.0.1:5432);
# each size gets a database kpi_bench_<percent>, dropped and created again. PYTHON: the interpreter
# with '.[bench]' installed (default .venv/bin/python).
set -euo pipefail
cd "$(dirname "$0")/.."
data=$(mkdir -p "${KPI_BENCH_DATA:-bench-data}/reports" && cd "${KPI_BENCH_DATA:-bench-data}" && pwd)
server=${KPI_BENCH_PG:-postgresql://postgres@127.0.0.1:5432}
python=${PYTHON:-.venv/bin/python}
for size in ${SIZES:-1 0.1 0.01}; do
  percent=$("$python" -c "print(round(float('$size') * 100))")
  echo "== $(date -u +%FT%TZ) SQLite, size $size"
  "$python" benchmarks/scale_bench.py "sqlite:///$data/kpi-$percent.sqlite" --generate "$size" --repeat 3 --output "$data/reports/sqlite-$percent.txt"
  echo "== $(date -u +%FT%TZ) PostgreSQL, size $size"
  psql "$server/postgres" -q -c "DROP DATABASE IF EXISTS kpi_bench_$percent" -c "CREATE DATABASE kpi_bench_$percent"
  "$python" benchmarks/scale_bench.py "$server/kpi_bench_$percent" --generate "$size" --repeat 3 --output "$data/reports/pg-$percent.txt"
done
echo "== $(date -u +%FT%TZ) reports in $data/reports"
