"""Activation: log in as the delegated user, answer challenges, turn the connection active."""
