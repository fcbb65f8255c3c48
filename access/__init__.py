"""Door access control: doors, schedules, groups, lists to controllers (issue 11 builds
it). The package exists so the layer contracts in pyproject.toml already hold it to its
floor: it may read accounts and terminals, never settlement."""
