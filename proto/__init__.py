"""The gRPC contract between plugin, broker and admin CLI (generated code + status helpers)."""
