"""The bundled Sandbox Bank's connector (DESIGN.md section 6)."""

from waycore.connectors.sandbox_bank.connector import SandboxBankConnector

__all__ = ["SandboxBankConnector"]
