"""Ansible inventories (YAML and INI, ``group_vars``/``host_vars``), connection settings
and ``--limit`` patterns, resolved to an ordered list of hosts."""
