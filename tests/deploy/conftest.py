"""Fixtures of tests/deploy: the registry with two builds of the plugin is made once for the folder."""

from tests.deploy.registry_env import plugin_builds

__all__ = ["plugin_builds"]
