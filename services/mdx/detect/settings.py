"""Settings of the detection service: the node's TOML `[detect]` and `[detect.thresholds]`."""

from __future__ import annotations

from typing import Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

from mdx.detect.model import Thresholds


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
