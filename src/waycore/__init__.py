"""Waycore: a self-hostable commercial-banking API over delegated-user bank portals."""

__version__ = "0.1.0"
