"""vmgroup multi-tenancy: the model, its config store and every rule.

Pure Python: no gRPC, no aiohttp. The broker and the admin CLI both call these
rules; nothing else re-implements them.
"""
