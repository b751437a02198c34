"""Pages in a real headless Chromium (Debian's ``chromium``): load a page and read
back the DOM after its scripts ran, and every console message; take screenshots.

Chromium is part of the set-up (``scripts/setup.sh``), so a missing one FAILS the
test that needs it, with the command that installs it; it is never skipped.
"""

from tests.browser.chromium import CHROMIUM_HINT, Loaded, chromium, load, screenshot
from tests.browser.dom import Element, parse

__all__ = ["CHROMIUM_HINT", "Element", "Loaded", "chromium", "load", "parse", "screenshot"]
