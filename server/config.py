"""Settings from the environment, each with one documented default (see docs/deployment.md)."""
import os
import secrets
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

PROJECT_ROOT = Path(__file__).resolve().parent.parent
# What a development install keeps in its instance folder, so that every `flask` command works
# after `make serve` without DEVELOPMENT=1: its own generated secret, and the address `make serve`
# was given. Read when the environment does not set them; a production install has neither file.
SECRET_KEY_FILE = "secret-key"
PUBLIC_BASE_URL_FILE = "public-base-url"


def _bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def _int(name: str, default: int) -> int:
    value = os.environ.get(name)
    return default if value in (None, "") else int(value)


def _time_zone(name: str, default: str) -> ZoneInfo:
    value = os.environ.get(name) or default
    try:
        return ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise RuntimeError(f"{name}={value!r} is not a time zone; give an IANA name such as Asia/Shanghai "
                           "(see docs/deployment.md).") from None


# The installation's local time (LOCAL_TIME_ZONE): what a caseworker calls "today", the day a visit
# took place, the times supervisors read, and the zone of EXIF times written without an offset
# (phone cameras write local time). Read once, when a process starts, and the same for all of them:
# the domain's dates are worked out outside requests too (the check worker, the CLI), so it is not
# one of the app's settings below.
LOCAL_TZ = _time_zone("LOCAL_TIME_ZONE", "Asia/Shanghai")


def _saved(instance: Path, name: str) -> str:
    try:
        return (instance / name).read_text().strip()
    except FileNotFoundError:
        return ""


def _development_secret(instance: Path) -> str:
    """The development install's secret: made once, by whichever process needs it first."""
    instance.mkdir(parents=True, exist_ok=True)
    draft = instance / f".{SECRET_KEY_FILE}.{os.getpid()}"
    descriptor = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as file:
        file.write(secrets.token_hex(32) + "\n")
    try:
        os.link(draft, instance / SECRET_KEY_FILE)  # whole or not at all; the first process wins
    except FileExistsError:
        pass
    finally:
        draft.unlink()
    return _saved(instance, SECRET_KEY_FILE)


def fill_development_defaults(config: dict) -> None:
    """In development only, what production must be given: a secret, made once and kept in the
    instance folder, and the address `make serve` listens on by default."""
    if not config["DEVELOPMENT"]:
        return
    config["SECRET_KEY"] = config["SECRET_KEY"] or _development_secret(Path(config["INSTANCE_DIR"]))
    config["PUBLIC_BASE_URL"] = (config["PUBLIC_BASE_URL"]
                                 or f"http://{os.environ.get('HOST') or '127.0.0.1'}:{os.environ.get('PORT') or 5000}")


def save_public_base_url(instance_dir: str, url: str) -> None:
    """Keep the address `make serve` was given for the commands run after it (`flask dev-setup`)."""
    (Path(instance_dir) / PUBLIC_BASE_URL_FILE).write_text(url + "\n")


def from_environment() -> dict:
    """Read the configuration once; create_app(config=...) overrides any key."""
    development = _bool("DEVELOPMENT", False)
    instance = Path(os.environ.get("INSTANCE_DIR", PROJECT_ROOT / "instance"))
    return {
        # Development mode allows plain HTTP for passwords and tokens and prints demo helpers.
        "DEVELOPMENT": development,
        # SQLAlchemy URL; default is an embedded SQLite file in the instance folder.
        "DATABASE_URL": os.environ.get("DATABASE_URL", f"sqlite:///{instance / 'dibao.sqlite3'}"),
        "INSTANCE_DIR": str(instance),
        # Where photos and signatures are stored (local storage backend).
        "MEDIA_DIR": os.environ.get("MEDIA_DIR", str(PROJECT_ROOT / "media")),
        # Where the XLSForm sources published by `flask forms publish-all` live.
        "FORMS_DIR": os.environ.get("FORMS_DIR", str(PROJECT_ROOT / "forms")),
        # Flask's secret, used for sessions of the supervisor pages. Must be set in production; a
        # development install makes its own in the instance folder.
        "SECRET_KEY": os.environ.get("SECRET_KEY") or _saved(instance, SECRET_KEY_FILE),
        # The address phones use (e.g. https://dibao.example.gov.cn), in every URL the server
        # gives out: never taken from a request's Host header. Required; `make serve` sets it.
        "PUBLIC_BASE_URL": (os.environ.get("PUBLIC_BASE_URL") or _saved(instance, PUBLIC_BASE_URL_FILE)).rstrip("/"),
        # Number of reverse proxies in front of us whose X-Forwarded-* headers are trusted.
        "TRUSTED_PROXIES": _int("TRUSTED_PROXIES", 0),
        # The size Collect splits an upload at, announced in X-OpenRosa-Accept-Content-Length: each
        # POST carries the XML and the files that fit, and is stored as it arrives, so on 2G a full
        # visit's answers and signatures are stored in seconds, not after its last photo
        # (bench/link_drops.py, docs/phones.md).
        "OPENROSA_ACCEPT_CONTENT_LENGTH": _int("OPENROSA_ACCEPT_CONTENT_LENGTH", 256 * 1024),
        # Largest submission POST accepted. Above the split size: Collect sends a file larger than
        # it alone with the XML, and does not count the multipart framing.
        "MAX_SUBMISSION_BYTES": _int("MAX_SUBMISSION_BYTES", 50 * 1024 * 1024),
        # Largest form data (the xml_submission_file part) accepted. Our forms' instance documents
        # are a few KB; parsed, each byte can cost ~45 bytes of memory, so the cap bounds a worker.
        "MAX_FORM_DATA_BYTES": _int("MAX_FORM_DATA_BYTES", 1024 * 1024),
        # Largest photo accepted, in pixels (a 1600-pixel phone photo is ~2 million).
        "MAX_IMAGE_PIXELS": _int("MAX_IMAGE_PIXELS", 40_000_000),
        # Decode pictures and run the checks inside the submission request, before the answer,
        # instead of in `flask checks work` (gunicorn.conf.py starts one). For tests and
        # one-process installs; phones then wait for the checks.
        "CHECKS_INLINE": _bool("CHECKS_INLINE", False),
        # Largest XLSForm upload accepted for publishing.
        "MAX_XLSFORM_BYTES": _int("MAX_XLSFORM_BYTES", 5 * 1024 * 1024),
        # Run ODK Validate (Java) on every publish. Never turn off in production.
        "ODK_VALIDATE": _bool("ODK_VALIDATE", True),
        # Name the phones show for this server's project.
        "PROJECT_NAME": os.environ.get("PROJECT_NAME", "低保入户核查"),
        # Sign-in throttling per (username, address) pair (docs/deployment.md): this many wrong
        # passwords in a row cost nothing; each further one makes the pair wait twice as long as
        # the last, from the base delay up to the maximum; a pair with no failure for the
        # remembered time starts afresh (keep it at least the maximum delay).
        "SIGN_IN_FREE_ATTEMPTS": _int("SIGN_IN_FREE_ATTEMPTS", 5),
        "SIGN_IN_BASE_DELAY_SECONDS": _int("SIGN_IN_BASE_DELAY_SECONDS", 2),
        "SIGN_IN_MAX_DELAY_SECONDS": _int("SIGN_IN_MAX_DELAY_SECONDS", 300),
        "SIGN_IN_FAILURES_REMEMBERED_SECONDS": _int("SIGN_IN_FAILURES_REMEMBERED_SECONDS", 3600),
        # A password checked right is taken on trust this long by the process that checked it
        # (keyed on the stored hash: a password change or deactivation ends it at once), so HTTP
        # Basic pays its scrypt once in a while instead of on every request. 0: every request.
        "PASSWORD_PROOF_SECONDS": _int("PASSWORD_PROOF_SECONDS", 300),
    }
