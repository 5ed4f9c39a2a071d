"""Realistic buildhub.json documents and the archive keys they live under (demo, tests, benchmarks)."""

from __future__ import annotations

import datetime as dt
import json
import random
from typing import Any

PRODUCTS = {
    "firefox": ("mozilla-release", ["release", "beta", "nightly", "esr"]),
    "devedition": ("mozilla-beta", ["aurora"]),
    "fennec": ("mozilla-release", ["release", "beta", "nightly"]),
    "thunderbird": ("comm-release", ["release", "beta"]),
}
PLATFORMS = {
    "win64": ("win", "Firefox Setup {v}.exe", "application/octet-stream"),
    "win32": ("win", "Firefox Setup {v}.exe", "application/octet-stream"),
    "macosx": ("mac", "Firefox {v}.dmg", "application/x-apple-diskimage"),
    "linux-x86_64": ("linux", "firefox-{v}.tar.bz2", "application/x-bzip2"),
    "android-arm": ("android", "fennec-{v}.multi.android-arm.apk", "application/vnd.android.package-archive"),
}
LOCALES = ["en-US", "de", "fr", "ca", "ja", "es-ES", "pt-BR", "zh-TW"]


def make_document(rng: random.Random, when: dt.datetime | None = None) -> dict[str, Any]:
    product = rng.choice(list(PRODUCTS))
    tree, channels = PRODUCTS[product]
    channel = rng.choice(channels)
    platform = "android-arm" if product == "fennec" else rng.choice([p for p in PLATFORMS if p != "android-arm"])
    os_name, file_pattern, mimetype = PLATFORMS[platform]
    major = rng.randint(60, 135)
    version = {
        "beta": f"{major}.0b{rng.randint(1, 14)}",
        "aurora": f"{major}.0b{rng.randint(1, 14)}",
        "nightly": f"{major}.0a1",
        "esr": f"{major}.{rng.randint(0, 12)}.0esr",
    }.get(channel, f"{major}.0")
    built = when or dt.datetime(2018, 1, 1, tzinfo=dt.UTC) + dt.timedelta(seconds=rng.randint(0, 8 * 365 * 86400))
    build_id = built.strftime("%Y%m%d%H%M%S")
    locale = rng.choice(LOCALES)
    file_name = file_pattern.format(v=version)
    return {
        "build": {
            "id": build_id,
            "date": built.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "number": rng.randint(1, 4),
            "as": "$(CC)",
            "cc": "/builds/worker/fetches/clang/bin/clang -std=gnu99",
            "cxx": "/builds/worker/fetches/clang/bin/clang++",
            "host": "x86_64-pc-linux-gnu",
            "target": {
                "win": "x86_64-pc-mingw32",
                "mac": "x86_64-apple-darwin",
                "linux": "x86_64-pc-linux-gnu",
                "android": "arm-unknown-linux-androideabi",
            }[os_name],
        },
        "source": {
            "product": product,
            "repository": f"https://hg.mozilla.org/releases/{tree}",
            "tree": tree,
            "revision": f"{rng.getrandbits(160):040x}",
        },
        "target": {"platform": platform, "os": os_name, "locale": locale, "version": version, "channel": channel},
        "download": {
            "url": f"https://archive.mozilla.org/pub/{product}/candidates/{version}-candidates/build1/{platform}/"
            f"{locale}/{file_name}",
            "mimetype": mimetype,
            "size": rng.randint(40_000_000, 90_000_000),
            "date": (built + dt.timedelta(hours=rng.randint(1, 6))).strftime("%Y-%m-%dT%H:%M:%SZ"),
        },
    }


def key_for(document: dict[str, Any]) -> str:
    """The archive path the document's files live under, as Taskcluster uploads them."""
    t, s = document["target"], document["source"]
    return (
        f"pub/{s['product']}/candidates/{t['version']}-candidates/build{document['build']['number']}/"
        f"{t['platform']}/{t['locale']}/{document['build']['id']}/buildhub.json"
    )


def encode(document: dict[str, Any]) -> bytes:
    return json.dumps(document, indent=2).encode()


INVALID_DOCUMENTS: dict[str, bytes] = {
    "not-json": b"{'build': this is not json",
    "empty-object": b"{}",
    "missing-version": json.dumps(
        {
            "build": {"id": "1"},
            "source": {"product": "firefox"},
            "target": {"platform": "win64", "locale": "en-US", "channel": "release"},
            "download": {"url": "u", "mimetype": "m", "size": 1, "date": "2020-01-01T00:00:00Z"},
        }
    ).encode(),
    "size-not-integer": json.dumps(
        {
            "build": {"id": "1"},
            "source": {"product": "firefox"},
            "target": {"platform": "win64", "locale": "en-US", "channel": "release", "version": "70.0"},
            "download": {"url": "u", "mimetype": "m", "size": "big", "date": "2020-01-01T00:00:00Z"},
        }
    ).encode(),
    "extra-nesting": json.dumps(
        {
            "build": {"id": {"nested": "1"}},
            "source": {"product": "firefox"},
            "target": {"platform": "win64", "locale": "en-US", "channel": "release", "version": "70.0"},
            "download": {"url": "u", "mimetype": "m", "size": 1, "date": "2020-01-01T00:00:00Z"},
        }
    ).encode(),
}
