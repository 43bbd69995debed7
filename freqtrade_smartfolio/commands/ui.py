"""``smartfolio ui install|status``: install FreqUI from a built release on disk, where freqtrade serves it.

``freqtrade install-ui`` downloads FreqUI's release zip from GitHub into freqtrade's
``rpc/api_server/ui/installed/`` folder and writes the version to ``.uiversion``. This command does the
same from a built ``frequi-<version>-dist.tar.gz`` (``--from``, ``$SMARTFOLIO_FREQUI``, or
``../shared/frequi`` beside the checkout), for machines that cannot reach GitHub. With internet,
``freqtrade install-ui`` does the same job.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import re
import shutil
import tarfile
import tempfile
from pathlib import Path

from freqtrade_smartfolio.cli import ExternalError, UserError
from freqtrade_smartfolio.marketdata import REPO_ROOT

NAME = "ui"
HELP = "Install FreqUI (freqtrade's web UI) from a built release on disk, as `freqtrade install-ui` does."
FREQUI_ENV = "SMARTFOLIO_FREQUI"
TARBALL = re.compile(r"^frequi-(?P<version>\d+(?:\.\d+)*(?:[-.\w]*)?)-dist\.tar\.gz$")
# freqtrade's clean_ui_subdir keeps these in the folder
KEEP = (".gitkeep", "fallback_file.html")


def default_sources() -> list[Path]:
    """Where a release is looked for without ``--from``: ``$SMARTFOLIO_FREQUI``, ``../shared/frequi``."""
    sources = []
    if env := os.environ.get(FREQUI_ENV):
        sources.append(Path(env).expanduser())
    sources.append(REPO_ROOT.parent / "shared" / "frequi")
    return sources


def freqtrade_ui_folder() -> Path:
    """freqtrade's ``rpc/api_server/ui/installed`` folder (what ``freqtrade install-ui`` fills)."""
    try:
        import freqtrade
    except ImportError as err:  # pragma: no cover - freqtrade is a dependency
        raise ExternalError(f"freqtrade is not installed ({err}); pip install freqtrade") from None
    return Path(freqtrade.__file__).resolve().parent / "rpc" / "api_server" / "ui" / "installed"


def find_tarball(source: Path | None) -> tuple[Path, str]:
    """The release tarball and its version, from ``source`` (a tarball or a folder holding one), else
    from :func:`default_sources`."""
    candidates = [source] if source is not None else default_sources()
    for path in candidates:
        if path.is_file():
            match = TARBALL.match(path.name)
            if not match:
                raise UserError(
                    f"--from: {path} is not a FreqUI release tarball (frequi-<version>-dist.tar.gz); "
                    "give the tarball or the folder that holds it"
                )
            return path, match.group("version")
        if path.is_dir():
            found = sorted(
                (p for p in path.iterdir() if TARBALL.match(p.name)),
                key=lambda p: [int(x) if x.isdigit() else x for x in re.split(r"[.-]", p.name)],
            )
            if found:
                return found[-1], str(TARBALL.match(found[-1].name).group("version"))  # type: ignore[union-attr]
            if source is not None:
                raise UserError(
                    f"--from: {path} holds no frequi-<version>-dist.tar.gz; give the folder of a built "
                    "FreqUI release or the tarball itself"
                )
        elif source is not None:
            raise UserError(
                f"--from: {path} does not exist; give a frequi-<version>-dist.tar.gz or its folder"
            )
    looked = ", ".join(str(p) for p in candidates)
    raise UserError(
        f"no FreqUI release found (looked in {looked}); give --from PATH (a frequi-<version>-dist.tar.gz), "
        f"set {FREQUI_ENV}, or with internet run `freqtrade install-ui`"
    )


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as file:
        for block in iter(lambda: file.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def read_version(folder: Path) -> str | None:
    """The installed version (freqtrade's ``.uiversion``), None when no UI is installed."""
    path = folder / ".uiversion"
    return path.read_text().strip() if path.is_file() else None


def _extract(tarball: Path, into: Path) -> None:
    """Extract safely (no path outside ``into``, no links/devices: tarfile's ``data`` filter)."""
    try:
        with tarfile.open(tarball, "r:gz") as archive:
            archive.extractall(into, filter="data")
    except (tarfile.TarError, OSError, EOFError) as err:
        raise UserError(
            f"--from: {tarball} cannot be extracted ({err}); give an intact FreqUI release"
        ) from None
    if not (into / "index.html").is_file():
        raise UserError(f"--from: {tarball} has no index.html at its top; it is not a built FreqUI (dist/)")


def install(tarball: Path, version: str, folder: Path, *, force: bool = False) -> str:
    """Install ``tarball`` into ``folder`` as ``freqtrade install-ui`` does (the folder's content replaced,
    ``.uiversion`` written), atomically: another process never sees half a UI. What was done, one line."""
    digest = sha256(tarball)
    stamp = folder / ".smartfolio-source"
    if not force and read_version(folder) == version and stamp.is_file() and stamp.read_text() == digest:
        return f"FreqUI {version} is already installed in {folder} (same tarball); --force reinstalls it"
    parent = folder.parent
    if not parent.is_dir():
        raise ExternalError(
            f"{parent} does not exist: this freqtrade has no api_server UI folder; reinstall freqtrade"
        )
    try:
        staging = Path(tempfile.mkdtemp(prefix=".installing-", dir=parent))
    except OSError as err:
        raise ExternalError(f"cannot write to {parent} ({err.strerror}); run as the venv's owner") from None
    old = parent / f".replaced-{os.getpid()}"
    try:
        _extract(tarball, staging)
        for name in KEEP:
            if (folder / name).is_file():
                shutil.copy2(folder / name, staging / name)
        (staging / ".uiversion").write_text(version)
        stamp_path = staging / ".smartfolio-source"
        stamp_path.write_text(digest)
        staging.chmod(0o755)
        if folder.exists():
            folder.rename(old)
        staging.rename(folder)
    except OSError as err:
        raise ExternalError(f"cannot install into {folder} ({err}); check the folder's permissions") from None
    finally:
        shutil.rmtree(staging, ignore_errors=True)
        shutil.rmtree(old, ignore_errors=True)
    files = sum(1 for p in folder.rglob("*") if p.is_file())
    return f"FreqUI {version} installed in {folder} ({files} files from {tarball}, sha256 {digest[:12]}...)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    inst = actions.add_parser(
        "install",
        help="install FreqUI where freqtrade serves it (the bot's http://127.0.0.1:8080/)",
        description=f"Install FreqUI from a built frequi-<version>-dist.tar.gz (--from, ${FREQUI_ENV}, "
        "or ../shared/frequi beside the checkout) into freqtrade's rpc/api_server/ui/installed, as "
        "`freqtrade install-ui` does from GitHub. A running bot serves it at once (no restart).",
    )
    inst.add_argument("--from", dest="source", type=Path, help="the tarball, or the folder holding it")
    inst.add_argument("--force", action="store_true", help="reinstall even if the same release is installed")
    inst.set_defaults(_action_name="install")
    status = actions.add_parser("status", help="show which FreqUI version is installed")
    status.set_defaults(_action_name="status")


def run(args: argparse.Namespace) -> int:
    folder = freqtrade_ui_folder()
    if args.action == "status":
        version = read_version(folder)
        print(f"FreqUI {version} installed in {folder}" if version else f"no FreqUI installed in {folder}")
        return 0
    tarball, version = find_tarball(args.source)
    print(install(tarball, version, folder, force=args.force))
    print(
        "A bot with api_server enabled serves it at its address, e.g. http://127.0.0.1:8080 (docs/frequi.md)"
    )
    return 0
