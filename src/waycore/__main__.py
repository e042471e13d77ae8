from waycore.cli import app

app()
