"""Collect the static files of all three services into one STATIC_ROOT, at image build time.

The three images share one final stage (they differ only by DJANGO_SETTINGS_MODULE), so one
STATIC_ROOT must serve every service. Each service's settings install different apps (only
the word services have the admin), and Django's manifest storage rewrites staticfiles.json
on every `collectstatic` with only the files that run found, so running the command once per
service would leave the manifest of the last one only and `{% static %}` would fail for the
others. This runs it per service and writes the union of the manifests (the same source file
always gets the same hashed name, so the union is consistent).

Redoc is left out: the API docs page is Swagger UI, Redoc is never routed, and its bundle and
source map would be a tenth of the image.

Usage (build stage only, from the app directory):
    python docker/collectstatic.py verbs nouns aggregator
"""

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

APP_DIR = Path.cwd()
MANIFEST = "staticfiles.json"
IGNORE = ["redoc"]


def collect(service: str) -> dict[str, object]:
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": f"wordmix.settings.{service}",
        # collectstatic reads no secret, but production settings refuse to load without one;
        # this key exists only in this build step's environment, never in an image layer's.
        "DJANGO_SECRET_KEY": "collectstatic-at-build-time-only",
    }
    subprocess.run(  # noqa: S603 - fixed argv, our own interpreter
        [
            sys.executable,
            str(APP_DIR / "manage.py"),
            "collectstatic",
            "--noinput",
            "-v",
            "0",
            *(f"--ignore={pattern}" for pattern in IGNORE),
        ],
        check=True,
        env=env,
        cwd=APP_DIR,
    )
    static_root = Path(
        subprocess.run(
            [
                sys.executable,
                "-c",
                "import django; django.setup(); "
                "from django.conf import settings; print(settings.STATIC_ROOT)",
            ],
            check=True,
            env=env,
            cwd=APP_DIR,
            capture_output=True,
            text=True,
        ).stdout.strip()
    )
    manifest: dict[str, object] = json.loads((static_root / MANIFEST).read_text())
    manifest["static_root"] = str(static_root)
    return manifest


def main(services: list[str]) -> None:
    if not services:
        raise SystemExit(__doc__)
    manifests = [collect(service) for service in services]
    roots = {m["static_root"] for m in manifests}
    if len(roots) != 1:
        raise SystemExit(f"the services disagree on STATIC_ROOT: {sorted(roots)}")
    paths: dict[str, str] = {}
    for manifest in manifests:
        for name, hashed in manifest["paths"].items():  # type: ignore[union-attr]
            if paths.setdefault(name, hashed) != hashed:
                raise SystemExit(f"{name} was collected twice with different contents")
    # Same layout and hash as Django's ManifestFilesMixin.save_manifest.
    digest = hashlib.md5(  # noqa: S324 - a content fingerprint, as Django computes it
        json.dumps(sorted(paths.items())).encode()
    ).hexdigest()[:12]
    merged = {"paths": paths, "version": manifests[0]["version"], "hash": digest}
    (Path(roots.pop()) / MANIFEST).write_text(json.dumps(merged))
    print(f"collected {len(paths)} static files for {', '.join(services)}")


if __name__ == "__main__":
    main(sys.argv[1:])
