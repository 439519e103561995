"""From-scratch NumPy versions of what the course's layers do, written to be read (chapters 01 and 03)."""
