"""The input boundary: playbook YAML, the release it names, durations and percentages.

Every :class:`fleet.errors.ConfigError` is born in this package or in :mod:`fleet.inventory`.
"""
