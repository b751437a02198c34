"""``python -m fleet`` (named ``fleet`` in help and shell completion)."""

from fleet.cli.main import main

main(prog_name="fleet")
