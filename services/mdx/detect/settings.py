"""Settings of the detection service: the node's TOML `[detect]` and `[detect.thresholds]`."""

from __future__ import annotations

import re
from typing import Self

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from mdx.detect.model import Thresholds

_MMSI = re.compile(r"\d{9}")
_IMO = re.compile(r"IMO\s*(\d{7})")


class DetectSettings(BaseModel):
    """How often `mdx detect run` looks, how far back, and the rules' thresholds."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    enabled: bool = True
    # Every track rule over the recent positions, this often.
    interval_s: float = Field(default=30, gt=0)
    # New AIS-SART / MOB / EPIRB-AIS positions (MMSI 970/972/974), this often.
    distress_interval_s: float = Field(default=2, gt=0)
    # How far back the rules look. An episode longer than this keeps its incident only
    # through episodes.carry_over (the rules see a later start once its first fix is out).
    window_h: float = Field(default=6, gt=0)
    thresholds: Thresholds = Thresholds()
    # Known carrier vessels (reefers), by MMSI ("351701004") or IMO number ("IMO 9123456"). AIS
    # has no ship type for a reefer (they report cargo), so the node lists those its registries
    # name (an RFMO's authorised carriers, say); the encounter rule counts them as reefers.
    carriers: frozenset[str] = frozenset()

    @field_validator("carriers", mode="before")
    @classmethod
    def _carrier_ids(cls, value: object) -> object:
        if not isinstance(value, list | tuple | set | frozenset):
            return value
        ids = set()
        for item in value:
            text = str(item).strip().upper()
            if match := _IMO.fullmatch(text):
                ids.add(f"IMO{match[1]}")
            elif _MMSI.fullmatch(text):
                ids.add(text)
            else:
                raise ValueError(
                    f"carrier {item!r} is neither an MMSI (9 digits) nor an IMO number "
                    '("IMO 1234567")'
                )
        return frozenset(ids)

    @model_validator(mode="after")
    def _window_holds_every_rule(self) -> Self:
        t = self.thresholds
        needed = max(
            t.dark_after_min + t.dark_prior_window_min,
            t.foreign_fishing_min_minutes,
            t.loiter_min_minutes,
            t.encounter_min_minutes,
        )
        if self.window_h * 60 <= needed:
            raise ValueError(
                f"window_h = {self.window_h} h is too short for the thresholds: a rule needs "
                f"{needed:.0f} min of positions; make it longer than {needed / 60:.1f} h"
            )
        return self
