# health: measure the playbook's health checks once; writes nothing.
run_snippets
say HEALTH_DONE
