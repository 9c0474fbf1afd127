"""Settings: one pydantic-settings class, ``PEERCOACH_`` prefix, ``__`` for nesting, ``.env`` support.

Only the entry points (CLI, web app) construct :class:`Settings`; everything else receives the values it
needs from ``bootstrap``. An invalid value stops start-up with a message naming the setting.
"""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class AppType(StrEnum):
    SINGLE_TENANT = "SingleTenant"
    MULTI_TENANT = "MultiTenant"
    USER_ASSIGNED_MSI = "UserAssignedMSI"


class BotCredential(StrEnum):
    AUTO = "auto"
    SECRET = "secret"
    CERTIFICATE = "certificate"
    MANAGED_IDENTITY = "managed_identity"


class ActorIdentification(StrEnum):
    MBOX = "mbox"
    MBOX_SHA1SUM = "mbox_sha1sum"
    ACCOUNT = "account"


class DatabaseSettings(BaseModel):
    url: str = Field(
        default="sqlite+aiosqlite:///./peercoach.db",
        description="SQLAlchemy async URL: sqlite+aiosqlite:///path or postgresql+asyncpg://user@host/db",
    )
    echo: bool = Field(default=False, description="Log every SQL statement (debugging only).")
    entra_auth: bool = Field(
        default=False,
        description="PostgreSQL: sign in with a Microsoft Entra token of the managed identity instead of a password.",
    )
    entra_client_id: str = Field(
        default="", description="Client id of the user-assigned managed identity used for Entra sign-in."
    )

    @field_validator("url")
    @classmethod
    def _async_driver(cls, value: str) -> str:
        if value.startswith("sqlite:") or value.startswith("sqlite:///"):
            value = value.replace("sqlite:", "sqlite+aiosqlite:", 1)
        elif value.startswith("postgresql://") or value.startswith("postgres://"):
            value = "postgresql+asyncpg://" + value.split("://", 1)[1]
        if not (value.startswith("sqlite+aiosqlite:") or value.startswith("postgresql+asyncpg:")):
            raise ValueError("use sqlite+aiosqlite:///FILE or postgresql+asyncpg://USER@HOST/DB")
        return value

    @model_validator(mode="after")
    def _entra(self) -> DatabaseSettings:
        if self.entra_auth and not self.url.startswith("postgresql"):
            raise ValueError("entra_auth (PEERCOACH_DB__ENTRA_AUTH) needs a postgresql+asyncpg:// URL")
        if self.entra_auth and not self.entra_client_id:
            raise ValueError("entra_auth needs PEERCOACH_DB__ENTRA_CLIENT_ID (the managed identity's client id)")
        return self


class BotSettings(BaseModel):
    app_id: str = Field(default="", description="Microsoft App ID of the Azure Bot registration.")
    app_password: SecretStr = Field(default=SecretStr(""), description="Client secret of the bot app.")
    app_certificate_path: Path | None = Field(
        default=None, description="PEM file with the bot's certificate and private key (instead of a secret)."
    )
    app_certificate_thumbprint: str = Field(default="", description="Thumbprint of that certificate.")
    app_tenant_id: str = Field(default="", description="Tenant of a SingleTenant bot registration.")
    app_type: AppType = Field(default=AppType.SINGLE_TENANT, description="Bot registration type.")
    dev_mode: bool = Field(
        default=False,
        description="Accept unauthenticated activities (Agents Playground only). Never in production.",
    )
    allowed_tenants: list[str] = Field(
        default_factory=list, description="Tenant ids allowed to talk to the bot (empty: the app tenant only)."
    )
    admins: list[str] = Field(
        default_factory=list, description="AAD object ids or emails of people allowed to run admin commands."
    )
    openid_metadata_url: str = Field(
        default="https://login.botframework.com/v1/.well-known/openidconfiguration",
        description="Bot Framework (channel) OpenID metadata URL (tests and national clouds change it).",
    )
    per_conversation_rps: float = Field(default=1.0, gt=0, description="Proactive sends per conversation/s.")
    per_tenant_rps: float = Field(default=50.0, gt=0, description="Proactive sends per tenant per second.")
    # -- deploy: how the bot proves itself to the Bot Connector (issue 17) --
    credential: BotCredential = Field(
        default=BotCredential.AUTO,
        description="Outbound credential: auto (managed identity for UserAssignedMSI, else certificate if set, "
                    "else secret), secret, certificate or managed_identity.",
    )
    identity_endpoint: str = Field(
        default="",
        description="Managed identity token endpoint override; empty: App Service's IDENTITY_ENDPOINT, else IMDS.",
    )

    @property
    def credential_kind(self) -> BotCredential:
        """The credential actually used (``auto`` resolved)."""
        if self.credential is not BotCredential.AUTO:
            return self.credential
        if self.app_type is AppType.USER_ASSIGNED_MSI:
            return BotCredential.MANAGED_IDENTITY
        return BotCredential.CERTIFICATE if self.app_certificate_path is not None else BotCredential.SECRET
    # -- inbound authentication (Bot Framework JWTs validated with PyJWT; keys fetched asynchronously) --
    channel_token_issuer: str = Field(default="https://api.botframework.com",
                                      description="Issuer of the Bot Connector's tokens.")
    emulator_openid_metadata_url: str = Field(
        default="https://login.microsoftonline.com/botframework.com/v2.0/.well-known/openid-configuration",
        description="OpenID metadata for Emulator / Agents Playground tokens (empty: refuse such tokens).",
    )
    clock_leeway_s: float = Field(default=300.0, ge=0, le=300,
                                  description="Clock skew tolerated on a token's exp/nbf (at most 5 minutes).")
    metadata_connect_timeout_s: float = Field(default=3.0, gt=0, description="Connect timeout for OpenID/JWKS.")
    metadata_read_timeout_s: float = Field(default=5.0, gt=0, description="Read timeout for OpenID/JWKS.")
    metadata_refresh_s: float = Field(default=86400.0, ge=60,
                                      description="Key refresh interval when the JWKS sends no cache headers.")
    # -- outbound calls to the Bot Connector --
    token_url: str = Field(default="", description="OAuth2 token endpoint for the bot's client secret "
                                                   "(empty: login.microsoftonline.com/<app tenant>/oauth2/v2.0/token).")
    oauth_scope: str = Field(default="https://api.botframework.com/.default",
                             description="Scope of the token the bot presents to the Bot Connector.")
    token_timeout_s: float = Field(default=10.0, gt=0, description="Timeout of one token request.")
    connector_connect_timeout_s: float = Field(default=5.0, gt=0, description="Bot Connector connect timeout.")
    connector_read_timeout_s: float = Field(default=20.0, gt=0, description="Bot Connector read timeout.")
    connector_per_host: int = Field(default=64, ge=1, le=1024,
                                    description="Concurrent Bot Connector calls per serviceUrl host.")
    service_url_hosts: list[str] = Field(
        default_factory=lambda: ["smba.trafficmanager.net", "*.botframework.com", "smba.infra.gcc.teams.microsoft.com",
                                 "smba.infra.gov.teams.microsoft.us", "smba.infra.dod.teams.microsoft.us",
                                 "*.botframework.azure.us"],
        description="Hosts the bot may post to outside dev mode (https only; '*.' matches subdomains; "
                    "a loopback host listed here is also allowed over http, for tests).",
    )
    allowed_email_domains: list[str] = Field(
        default_factory=list,
        description="Sender domains admitted on the email channel while a tenant allow-list is in force.",
    )


class GraphSettings(BaseModel):
    tenant_id: str = Field(default="", description="Entra tenant of the Graph app registration.")
    client_id: str = Field(default="", description="Client id of the Graph app registration.")
    client_secret: SecretStr = Field(default=SecretStr(""), description="Client secret for Graph.")
    certificate_path: Path | None = Field(default=None, description="PEM certificate for Graph (instead).")
    base_url: str = Field(
        default="https://graph.microsoft.com/v1.0", description="Graph base URL (national clouds, tests)."
    )
    authority_host: str = Field(default="", description="Entra authority host for national clouds.")
    token_url: str = Field(
        default="", description="Plain OAuth2 token endpoint instead of azure-identity (tests, private clouds)."
    )
    max_attempts: int = Field(default=5, ge=1, le=10, description="Attempts per Graph request (429/5xx).")
    organizer: str = Field(
        default="mentor", description="Who organises meetings: 'mentor', 'first' or a program mailbox address."
    )
    sender_mailbox: str = Field(default="", description="Mailbox that sends program email via sendMail.")
    managed_identity_client_id: str = Field(
        default="",
        description="Client id of a user-assigned managed identity for Graph (instead of a secret/certificate).",
    )

    @property
    def configured(self) -> bool:
        return bool(self.managed_identity_client_id) or bool(
            self.tenant_id and self.client_id and (self.client_secret.get_secret_value() or self.certificate_path))


class SmtpSettings(BaseModel):
    host: str = Field(default="", description="SMTP server (used when Graph mail is not configured).")
    port: int = Field(default=587, ge=1, le=65535, description="SMTP port.")
    starttls: bool = Field(default=True, description="Upgrade the connection with STARTTLS.")
    use_tls: bool = Field(default=False, description="Implicit TLS (port 465).")
    username: str = Field(default="", description="SMTP user name.")
    password: SecretStr = Field(default=SecretStr(""), description="SMTP password.")
    sender: str = Field(default="peercoach@localhost", description="From address of program email.")
    folder: Path | None = Field(default=None, description="Write email as .eml files into this folder instead of "
                                                           "sending it (the dev stack; never for production).")


class LrsSettings(BaseModel):
    endpoint: str = Field(default="", description="xAPI endpoint of the LRS, e.g. https://lrs.example/xAPI/.")
    username: str = Field(default="", description="Basic auth user (or OAuth2 client id).")
    password: SecretStr = Field(default=SecretStr(""), description="Basic auth password (or client secret).")
    auth: str = Field(default="basic", description="'basic' or 'oauth2' (client credentials).")
    token_url: str = Field(default="", description="OAuth2 token endpoint when auth=oauth2.")
    batch_size: int = Field(default=200, ge=1, le=1000, description="Statements per POST.")
    timeout_s: float = Field(default=30.0, gt=0, description="HTTP timeout per request.")
    actor_identification: ActorIdentification = Field(
        default=ActorIdentification.MBOX, description="How actors are identified: mbox, mbox_sha1sum, account."
    )
    account_homepage: str = Field(default="", description="homePage of account actors (account mode).")
    platform: str = Field(default="Microsoft Teams", description="context.platform of statements.")
    activity_base_iri: str = Field(
        default="https://peercoach.example/xapi", description="Base IRI for program/round/meeting activities."
    )
    agent_objects: bool = Field(
        default=True,
        description="Use Agent/Group objects for mentored/talked-with (false for LRSs that refuse them, e.g. ralph).",
    )
    system_email: str = Field(
        default="peercoach@peercoach.example",
        description="Actor of statements peercoach makes itself (erasure, aggregates); the LRS must accept it.",
    )
    simulated: bool = Field(
        default=False,
        description="Mark every statement as simulated (profile extension 'simulated'); set by `peercoach simulate`.",
    )

    @property
    def configured(self) -> bool:
        return bool(self.endpoint)


class ManifestSettings(BaseModel):
    app_id: str = Field(default="", description="Teams app id (GUID) in the manifest.")
    bot_id: str = Field(
        default="", description="Bot id for the manifest; empty: PEERCOACH_BOT__APP_ID. Must equal it if set."
    )
    domain: str = Field(default="", description="Public host name of the bot (validDomains).")
    version: str = Field(default="1.0.0", description="App package version.")
    developer_name: str = Field(default="Peercoach", description="Developer name shown in Teams.")
    website_url: str = Field(default="https://peercoach.example", description="Developer website.")
    privacy_url: str = Field(default="https://peercoach.example/privacy", description="Privacy statement.")
    terms_url: str = Field(default="https://peercoach.example/terms", description="Terms of use.")


class AssessmentSettings(BaseModel):
    rubrics_dir: Path | None = Field(
        default=None, description="Folder of program rubrics (*.yaml, *.json); built-in rubrics otherwise."
    )


class ImportSettings(BaseModel):
    """``participants import`` (cli branch): batches keep each write transaction short so the bot keeps answering."""

    batch_size: int = Field(default=200, ge=1, le=10_000,
                            description="People written per transaction by `participants import`.")
    # 0: a batch reads and prepares for milliseconds before it takes SQLite's write lock, and a waiting writer
    # (which polls every millisecond) gets the lock then; a pause only made the import longer (benchmarked).
    pause_ms: int = Field(default=0, ge=0, le=10_000,
                          description="SQLite: extra pause between `participants import` batches, for other writers.")
    niceness: int = Field(default=10, ge=0, le=19,
                          description="CPU priority (nice) `participants import` gives up, so the bot answers first; "
                                      "0 keeps normal priority.")
    max_cell_chars: int = Field(default=1000, ge=16, le=100_000,
                                description="Longest cell `participants import` accepts (characters).")
    max_rows: int = Field(default=200_000, ge=1, description="Most rows one `participants import` file may have.")


class SchedulerSettings(BaseModel):
    enabled: bool = Field(default=True, description="Start due rounds by themselves inside `serve`.")
    interval_s: float = Field(default=60.0, gt=0, description="How often the scheduler looks for due rounds.")


class LogFormat(StrEnum):
    TEXT = "text"
    JSON = "json"


class ServerSettings(BaseModel):
    """How `peercoach serve` (and the gunicorn entry point) behaves under a process manager (issue 17)."""

    shutdown_grace_s: float = Field(
        default=30.0, gt=0, le=600,
        description="On SIGTERM: seconds to finish in-flight turns and release leases before exiting.",
    )
    log_format: LogFormat = Field(default=LogFormat.TEXT, description="'text' or 'json' (one JSON object a line).")
    ready_outbox_limit: int = Field(
        default=10000, ge=1,
        description="/readyz fails when the LRS is unreachable and more statements than this wait in the outbox.",
    )
    ready_timeout_s: float = Field(default=3.0, gt=0, le=30, description="Timeout of each /readyz probe.")
    migrate_on_start: bool = Field(
        default=True,
        description="`serve` applies migrations at start; false when `peercoach db upgrade` runs as its own step.",
    )


class WebTwinSettings(BaseModel):
    """Web twins of cards: pages with signed, expiring links for people Teams cannot reach (issue 18)."""

    public_base_url: str = Field(
        default="",
        description="Base URL of the links to cards' web twins, e.g. https://coach.contoso.com (empty: "
                    "PEERCOACH_PUBLIC_URL).",
    )
    signing_key: SecretStr = Field(
        default=SecretStr(""),
        description="Key that signs links to cards' web twins (at least 32 characters, e.g. `openssl rand -base64 "
                    "32`); empty: no web twins (emails say to answer in Teams or by reply).",
    )
    ttl_hours: float = Field(default=168.0, gt=0, le=24 * 90, description="How long a link to a web twin works.")

    @field_validator("signing_key")
    @classmethod
    def _key_length(cls, value: SecretStr) -> SecretStr:
        if value.get_secret_value() and len(value.get_secret_value()) < 32:
            raise ValueError("use at least 32 characters (e.g. `openssl rand -base64 32`)")
        return value


class Settings(BaseSettings):
    """Every setting peercoach reads. Environment: ``PEERCOACH_<NAME>`` and ``PEERCOACH_<SECTION>__<NAME>``."""

    model_config = SettingsConfigDict(
        env_prefix="PEERCOACH_", env_nested_delimiter="__", env_file=".env", extra="ignore"
    )

    host: str = Field(default="127.0.0.1", description="Address `serve` listens on.")
    port: int = Field(default=3978, ge=1, le=65535, description="Port `serve` listens on.")
    log_level: str = Field(default="INFO", description="Python logging level.")
    public_url: str = Field(default="", description="Public https URL of the bot (links in email).")
    default_locale: str = Field(default="en", description="Locale for people whose locale is unknown.")
    db: DatabaseSettings = Field(default_factory=DatabaseSettings)
    bot: BotSettings = Field(default_factory=BotSettings)
    graph: GraphSettings = Field(default_factory=GraphSettings)
    smtp: SmtpSettings = Field(default_factory=SmtpSettings)
    lrs: LrsSettings = Field(default_factory=LrsSettings)
    manifest: ManifestSettings = Field(default_factory=ManifestSettings)
    scheduler: SchedulerSettings = Field(default_factory=SchedulerSettings)
    assessment: AssessmentSettings = Field(default_factory=AssessmentSettings)
    server: ServerSettings = Field(default_factory=ServerSettings)
    imports: ImportSettings = Field(default_factory=ImportSettings)
    web_twin: WebTwinSettings = Field(default_factory=WebTwinSettings)

    @field_validator("log_level")
    @classmethod
    def _level(cls, value: str) -> str:
        upper = value.upper()
        if upper not in {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"}:
            raise ValueError("use DEBUG, INFO, WARNING, ERROR or CRITICAL")
        return upper

    @model_validator(mode="after")
    def _bot_auth(self) -> Settings:
        # botbuilder treats an empty app id as "no authentication"; we allow that only in dev mode.
        if not self.bot.app_id and not self.bot.dev_mode:
            raise ValueError(
                "PEERCOACH_BOT__APP_ID is empty: set the bot's Microsoft App ID, or set "
                "PEERCOACH_BOT__DEV_MODE=true for local use with the Agents Playground (no authentication)"
            )
        return self


class SettingsError(Exception):
    """Settings could not be loaded; the message names every offending setting."""


def _env_name(loc: tuple[Any, ...]) -> str:
    parts = [str(p) for p in loc if not isinstance(p, int)]
    return "PEERCOACH_" + "__".join(p.upper() for p in parts) if parts else "PEERCOACH settings"


def load_settings(**overrides: Any) -> Settings:
    """Read settings from the environment and ``.env``; raise :class:`SettingsError` naming bad values."""
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        lines = []
        for err in exc.errors():
            lines.append(f"{_env_name(err['loc'])}: {err['msg']}")
        raise SettingsError("invalid configuration:\n  " + "\n  ".join(lines)) from None


def describe_settings() -> list[tuple[str, str, str]]:
    """(environment variable, default, description) for every setting, for docs and `peercoach config`."""
    rows: list[tuple[str, str, str]] = []

    def walk(model: type[BaseModel], prefix: str) -> None:
        for name, field in model.model_fields.items():
            annotation = field.annotation
            if isinstance(annotation, type) and issubclass(annotation, BaseModel):
                walk(annotation, f"{prefix}{name.upper()}__")
                continue
            default = field.get_default(call_default_factory=True)
            if isinstance(default, SecretStr):
                default = ""
            rows.append((f"{prefix}{name.upper()}", str(default), field.description or ""))

    walk(Settings, "PEERCOACH_")
    return rows
