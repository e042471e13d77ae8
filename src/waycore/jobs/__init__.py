"""The worker's job queue: procrastinate on the app's PostgreSQL (DESIGN.md section 3)."""
