"""Self-contained HTML pages of past runs: a run's report with its timeline, a health
watch's charts, and a static site of every run (``fleet report --html/--site``).

Built with the standard library only, from what :mod:`fleet.runlog` reads back.
Every page is one file: inline CSS, a small inline script, inline SVG drawn
here; nothing is fetched (a Content-Security-Policy allows only the page's own
style and script, by hash). Every value from a log (host names, errors, reasons)
is escaped where it is written.
"""
