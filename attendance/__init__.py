"""Attendance: shifts, rosters, punches to daily results (issue 12 builds it). The
package exists so the layer contracts in pyproject.toml already hold it to its floor: it
may read accounts and terminals, never settlement."""
