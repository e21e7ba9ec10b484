"""Version ranges of rules: `[1.9.0,1.11.0)`, either end open, over Go module versions and Go releases."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class VersionRange:
    text: str

    @classmethod
    def parse(cls, text: str) -> VersionRange:
        raise NotImplementedError

    def contains(self, version: str) -> bool:
        raise NotImplementedError
