"""The run log: the JSONL journal (write side) and history (read side)."""
