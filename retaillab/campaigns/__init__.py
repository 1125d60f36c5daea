"""Campaign tests: A/B readouts with honest intervals, CUPED, sample-ratio checks, planning,
and what an effect pays.

- :func:`readout`: every treatment arm against the control, in conversion (two-proportion z,
  Newcombe interval) and revenue per customer (Welch t), each with a seeded bootstrap check,
  Holm-adjusted over arms, CUPED-adjusted with a pre-period value, and a verdict that refuses
  "established" when the sample ratio is off (:func:`srm`);
- :func:`cuped`: the CUPED adjustment of Deng et al. (2013);
- :func:`sample_size`, :func:`mde`, :func:`power`: planning the next test;
- :func:`campaign_value`, :func:`recommender_payback`: the money, with the effect's interval
  carried through;
- :func:`read_campaign`: a campaign file read with the house's checks (one row per customer).

>>> from retaillab import campaigns
>>> campaigns.sample_size(baseline=0.10, mde=0.20, relative=True).customers
(3841, 3841)
>>> found = campaigns.readout(table, control="control", pre="revenue_before")  # doctest: +SKIP
>>> print(found)                                                              # doctest: +SKIP
>>> campaigns.campaign_value(found.row("revenue"), customers=50_000, margin=0.3,
...                          contact_cost=0.05)                               # doctest: +SKIP

Only numpy and pandas load with the package; scipy when a test or interval is computed.
The functions are imported at once (not on first use) because ``readout``, ``cuped`` and
``power`` share their modules' names: a lazy name would be replaced by its module as soon as
anything imported the module.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from retaillab.campaigns.cuped import Cuped, cuped
from retaillab.campaigns.effects import (
    Difference,
    bootstrap_difference,
    mean_difference,
    proportion_difference,
    wilson_interval,
)
from retaillab.campaigns.money import Money, campaign_value, recommender_payback
from retaillab.campaigns.power import Plan, mde, power, sample_size
from retaillab.campaigns.readout import CampaignReadout, readout
from retaillab.campaigns.srm import SampleRatio, srm

__all__ = [
    "CampaignReadout", "Cuped", "Difference", "Money", "Plan", "SampleRatio",
    "bootstrap_difference", "campaign_value", "cuped", "mde", "mean_difference", "power",
    "proportion_difference", "read_campaign", "readout", "recommender_payback",
    "sample_size", "srm", "wilson_interval",
]


def read_campaign(data: pd.DataFrame | str | Path, *, conversion: str | None = "converted",
                  columns: dict[str, str] | None = None, **options) -> pd.DataFrame:
    """Read a campaign file (CSV or Parquet): one row per customer, arm, outcomes, pre-period.

    It is :func:`retaillab.data.read_customers` with the conversion column as its binary
    target: the same checks and messages (the file's line numbers, one row per customer,
    1/0, yes/no or true/false conversions as bool), text columns such as the arm as
    categories, numeric text as numbers. ``columns={canonical: yours}`` maps the customer id
    column (``{"customer": "cust_id"}``); ``options`` are ``read_customers``' (``sep``,
    ``encoding``, ``decimal``, ``id_type``...). Pass the result to :func:`readout`.
    """
    from retaillab.data.user import read_customers

    return read_customers(data, columns=columns, target=conversion, **options)
