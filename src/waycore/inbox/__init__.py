"""The inbox: e-mail (SMTP) and SMS received for delegated users, and the secrets in them."""
