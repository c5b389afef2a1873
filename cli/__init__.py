"""The `vdvs` command tree: argument parsing and output formatting only; rules live in tenancy/."""
