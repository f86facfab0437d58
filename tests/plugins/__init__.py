"""Plugins used by the core tests, loaded with ``--plugin`` / ``TOOLKIT_PLUGINS``."""
