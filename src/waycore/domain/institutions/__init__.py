"""The institution catalogue: bank portals users can pick from (API.md section 7)."""
