"""The sync engine: connector output to rows, the change log, balance projection."""
