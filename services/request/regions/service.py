"""The region catalog of the configured regency, read once from a CSV file (``level,code,name,parent_code``).

The shipped file ``data/<regency>.csv`` is the official list for Pesawaran (18.09) with one added row for the
province, which the source file names only as the regency's parent code.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

__all__ = ["Kecamatan", "RegionCatalog", "Village", "load_catalog"]


@dataclass(frozen=True, slots=True)
class Village:
    code: str
    name: str
    kecamatan_code: str


@dataclass(frozen=True, slots=True)
class Kecamatan:
    code: str
    name: str
    villages: tuple[str, ...] = ()

    @property
    def nik_prefix(self) -> str:
        """The six digits a NIK issued in this kecamatan starts with: ``18.09.01`` → ``180901``."""
        return self.code.replace(".", "")


@dataclass(frozen=True, slots=True)
class RegionCatalog:
    province_code: str
    province_name: str
    regency_code: str
    regency_name: str
    kecamatan: dict[str, Kecamatan] = field(default_factory=dict)
    villages: dict[str, Village] = field(default_factory=dict)
    by_nik_prefix: dict[str, Kecamatan] = field(default_factory=dict)


def _parse(text: str, regency_code: str) -> RegionCatalog:
    province = ("", "")
    regency = ("", "")
    kecamatan: dict[str, list[str]] = {}
    names: dict[str, str] = {}
    villages: dict[str, Village] = {}
    for row in csv.DictReader(io.StringIO(text)):
        level, code, name, parent = row["level"], row["code"], row["name"], row["parent_code"]
        if level == "province":
            province = (code, name)
        elif level == "regency" and code == regency_code:
            regency = (code, name)
            if not province[0]:
                province = (parent, "")
        elif level == "kecamatan" and parent == regency_code:
            kecamatan[code] = []
            names[code] = name
        elif level == "desa" and parent in kecamatan:
            kecamatan[parent].append(code)
            villages[code] = Village(code=code, name=name, kecamatan_code=parent)
    if not regency[0]:
        raise ValueError(f"the region data has no regency {regency_code}")
    kec = {c: Kecamatan(code=c, name=names[c], villages=tuple(v)) for c, v in kecamatan.items()}
    return RegionCatalog(
        province_code=province[0],
        province_name=province[1],
        regency_code=regency[0],
        regency_name=regency[1],
        kecamatan=kec,
        villages=villages,
        by_nik_prefix={k.nik_prefix: k for k in kec.values()},
    )


def load_catalog(regency_code: str, path: Path | None = None) -> RegionCatalog:
    """The catalog from ``path``, or from the file shipped for ``regency_code``."""
    if path is not None:
        text = path.read_text(encoding="utf-8")
    else:
        text = resources.files("services.request.regions").joinpath("data", f"{regency_code}.csv").read_text("utf-8")
    return _parse(text, regency_code)
