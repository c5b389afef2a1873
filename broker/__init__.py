"""The host-side broker: authenticates VMs, applies vmgroup rules, runs disk operations."""
