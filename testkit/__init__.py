"""Real components for the tests and the benchmarks: brokers in-process and as processes, a Docker
engine, PostgreSQL, vcsim, store seeding, load generation, host cleanup.

Imported as ``testkit`` from the repository root (pytest puts it on sys.path; the benchmarks run as
``python -m bench.<name>``). It is not part of the installed vdvs package.
"""
