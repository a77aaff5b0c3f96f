"""Studies of stored sweeps: survival statistics, tables and figures."""
