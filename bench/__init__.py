"""OneCard benchmarks (`python -m bench`): each figure beside a yardstick measured in the
same run on the same machine (pgbench TPC-B), so results travel between machines."""
