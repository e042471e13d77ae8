"""Bank connectors: drive portals, yield plain dataclasses (DESIGN.md section 4)."""
