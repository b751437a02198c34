"""The commands as functions: one typed input, one typed result each; no click, no rich."""
