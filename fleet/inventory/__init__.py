"""Ansible inventories as ansible-core reads them (YAML and INI files, folders of them,
host lists, ``group_vars``/``host_vars``), connection settings from Ansible's vars, and
``--limit`` patterns, resolved to an ordered list of hosts. ``tests/compat`` proves it
against ansible-core itself."""
