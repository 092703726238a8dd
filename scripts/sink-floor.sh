#!/usr/bin/env bash
# What PostgreSQL alone needs to take the rows of one city's catch-up (issue 20's
# floor): each table of the sink, for city CITY already sunk into the database at
# URL, is copied out to a file and then into an empty table of the same definition
# (its key and all) by psql's \copy — the same COPY FROM STDIN, text form, that the
# sink uses, with no sink running. Prints the seconds per table and in all.
#
#   scripts/sink-floor.sh postgresql://sanbao@127.0.0.1:55432/postgres CITY
#
# Leaves the database as it was (the scratch tables are dropped).
set -euo pipefail
url=${1:?give the database URL}
city=${2:?give a city already sunk}
export PGOPTIONS="-c client_min_messages=warning"
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
total=0
for t in records county_days payroll watchlist; do
  psql "$url" -qX -v ON_ERROR_STOP=1 \
    -c "\\copy (SELECT * FROM $t WHERE city = '$city') TO '$dir/$t'"
  psql "$url" -qX -v ON_ERROR_STOP=1 -c "DROP TABLE IF EXISTS floor_$t" \
    -c "CREATE TABLE floor_$t (LIKE $t INCLUDING ALL)"
  start=$(date +%s.%N)
  psql "$url" -qX -v ON_ERROR_STOP=1 -c "\\copy floor_$t FROM '$dir/$t'"
  took=$(echo "$(date +%s.%N) - $start" | bc)
  rows=$(wc -l <"$dir/$t")
  psql "$url" -qX -c "DROP TABLE floor_$t"
  printf '%-12s %9d rows %7.2f s\n' "$t" "$rows" "$took"
  total=$(echo "$total + $took" | bc)
done
printf '%-12s %24.2f s\n' "all" "$total"
