"""The remote steps: each renders one shell script and parses what it printed.

Building a script and parsing its output are pure functions (golden-tested);
only the pipeline sends them through a transport.
"""
