"""Many hosts at once: the bounded pool, connections, one host's pipeline, the fleet
schedule, surveys of the state on the hosts, the health watch and signals."""
