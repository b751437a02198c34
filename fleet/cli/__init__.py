"""The command line: the only place for click, rich and ``sys.exit``.

``fleet.cli:main`` is the console-script entry point (pyproject ``[project.scripts]``).
"""

from fleet.cli.main import main

__all__ = ["main"]
