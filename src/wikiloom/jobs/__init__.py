"""The job engine wiring: job functions that own their transactions and call the contexts."""
