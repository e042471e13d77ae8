"""Settings, read from ``WAYCORE_*`` environment variables at the edges (DESIGN.md section 10)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_PHONE_POOL = ",".join(f"+1{area}5550100-+1{area}5550199" for area in range(201, 300))


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="WAYCORE_", extra="ignore")

    env: Literal["development", "production"] = "development"
    database_url: str | None = None
    test_database_url: str | None = None
    master_key: SecretStr | None = None
    master_key_file: Path = Path(".waycore/master.key")
    rate_limit: str | None = None
    chromium_path: Path = Path("/usr/bin/chromium")
    phone_pool: str = DEFAULT_PHONE_POOL
    public_url: str = "http://localhost:8000"
    delegated_user_address: str = "1 Example Street, Springfield, IL 62701, US"
    sandbox_start_date: str | None = None
    test_redis_url: str | None = None
    redis_url: str | None = None
    inbox_domain: str = "inbox.localhost"
    inbox_sms_secret: SecretStr | None = None
    sandbox_bank_url: str = "http://localhost:8100"
    sandbox_token: SecretStr | None = None
    inbox_code_timeout_s: float = 120.0
    verification_timeout_s: float = 600.0
    sandbox_smtp_url: str | None = None
    sandbox_sms_webhook_url: str | None = None
    webhook_retry_scale: float = 1.0
    sync_interval_s: float = 21_600.0  # scheduled sync every 6 hours (with jitter)
    sync_intervals: str | None = None  # per institution: "institution_id=seconds,..."
    job_retry_base_s: float = 30.0  # first backoff of a transient bank failure (doubles)
    job_max_attempts: int = 5  # runs of a job before a transient failure is terminal
    statement_periods: int = 0  # statements a sync keeps per account: newest N periods; 0 = all
    state_dir: Path = Path(".waycore")

    @field_validator("database_url")
    @classmethod
    def _plain_postgres_url(cls, value: str | None) -> str | None:
        if value is None or value == "":
            return None
        if not value.startswith(("postgresql://", "postgres://")):
            raise ValueError("must be a plain postgresql://user@host:port/db URL")
        return value

    @field_validator("rate_limit")
    @classmethod
    def _rate_limit(cls, value: str | None) -> str | None:
        if value is None or value == "" or value == "off":
            return value or None
        if float(value) <= 0:
            raise ValueError("must be 'off' or a positive number")
        return value

    @property
    def rate_limit_multiplier(self) -> float | None:
        """None when limiting is off, else the multiplier of API.md's default rates."""
        if self.rate_limit == "off":
            return None
        return float(self.rate_limit) if self.rate_limit else 1.0


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
