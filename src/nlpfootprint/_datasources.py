"""Origin, license and year of each shipped data file (private; see ``data/README.md``).

:func:`nlpfootprint.intensity.data_sources` returns these, and ``nlpfootprint regions
--sources`` prints them. ``data/README.md`` says the same at greater length.
"""

from __future__ import annotations

import attrs

__all__ = ["DATA_SOURCES", "DataSource"]


@attrs.frozen
class DataSource:
    """Where one shipped data file comes from.

    Attributes:
        file: The file name under ``nlpfootprint/data``.
        what: What it holds.
        origin: Publisher, and how the file was obtained.
        license: Its license.
        year: The year(s) the data describe.
        attribution: The credit line to give when the numbers are reused.
    """

    file: str
    what: str
    origin: str
    license: str
    year: str
    attribution: str


_IPCC = "IPCC AR5 WG3 Annex III (Schlomer et al. 2014), Table A.III.2"

DATA_SOURCES: tuple[DataSource, ...] = (
    DataSource(
        file="carbon_intensity_countries.csv",
        what="Carbon intensity of electricity generation (lifecycle, g CO2e/kWh) of 214 "
        "countries and 24 aggregates, latest year per entity. Central African Republic's "
        "0 g/kWh is served as 24 g/kWh, the estimate from its generation mix; 5 values "
        "implausible for a gas-fired grid (TKM, UZB, BHR, BRN, LBY) are kept but flagged",
        origin="Our World in Data energy data, variable carbon_intensity_elec (Ember yearly "
        "electricity data and the Energy Institute Statistical Review), OWID chart export "
        "of about April 2026",
        license="CC BY 4.0",
        year="2025 for 91 countries and most aggregates, 2024 for 105, older for 18",
        attribution="Ember (2026); Energy Institute - Statistical Review of World Energy "
        "(2025) - processed by Our World in Data",
    ),
    DataSource(
        file="carbon_intensity_subnational.csv",
        what="US states and DC (direct CO2e, not lifecycle), 30 Chinese provinces (CO2 "
        "only), Swedish and Norwegian electricity bidding zones",
        origin="US EPA eGRID2023 (field STC2ERTA, lb/MWh converted to g/kWh); China MEE & "
        "NBS Announcement 2025 No. 47, Table 3; bidding zones derived by CodeCarbon from "
        "the ENTSO-E 2025 generation mix; all as shipped in the codecarbon 3.3.2 wheel",
        license="MIT (CodeCarbon); eGRID is US government work in the public domain",
        year="2023 (US, China), 2025 (bidding zones)",
        attribution="US EPA eGRID2023; China MEE & NBS (2025) No. 47; compiled by CodeCarbon 3.3.2",
    ),
    DataSource(
        file="cloud_regions.csv",
        what="Grid carbon intensity of cloud regions: Google Cloud (44), AWS (30, 8 of them "
        "mapped to their country's figure), Azure (32), CoreWeave (3), OVH (2), Scaleway "
        "(1), Seeweb (1, mapped to Italy's figure)",
        origin="Google Cloud rows: GoogleCloudPlatform/region-carbon-info, 2024 "
        "location-based grid intensity. Mapped rows: the country table's figure for the "
        "region's country. Other rows: ML CO2 Impact calculator "
        "(mlco2/impact data/impact.csv), older grid averages of mixed sources",
        license="Apache-2.0 (Google Cloud rows); CC BY 4.0 (mapped rows); MIT (other rows)",
        year="2024 (Google Cloud); the country's year, 2024-2025 (mapped rows); compiled "
        "2019 (AWS, Azure: stale) and 2022 (CoreWeave, OVH, Scaleway) from data of 2016-2022",
        attribution="Google Cloud region carbon information (2024); Ember (2026), Energy "
        "Institute (2025), processed by Our World in Data (mapped rows); Lacoste et al. "
        "(2019), Quantifying the Carbon Emissions of Machine Learning, ML CO2 Impact "
        "calculator",
    ),
    DataSource(
        file="emission_factors_by_source.csv",
        what="Lifecycle emission factors (min, median, max g CO2e/kWh) per generation "
        "technology, used by intensity_from_mix",
        origin=f"{_IPCC}; oil (absent from AR5): the Electricity Maps default lifecycle "
        "factor, source UK POST 2014",
        license="Figures reproduced as facts, with citation (report (c) IPCC)",
        year="2014",
        attribution=f"{_IPCC}, lifecycle emissions",
    ),
    DataSource(
        file="iso3166.csv",
        what="ISO 3166-1 alpha-2 and alpha-3 country codes with short, common and "
        "official names, used to resolve country keys",
        origin="ISO 3166-1 via the Debian iso-codes project, exported from pycountry 26.2.16",
        license="The codes and names are ISO 3166-1 facts; iso-codes and pycountry are LGPL-2.1",
        year="2026 (pycountry 26.2.16)",
        attribution="ISO 3166-1 via the Debian iso-codes project (pycountry 26.2.16)",
    ),
    DataSource(
        file="hardware_power.csv",
        what="Maximum board or module power (TDP) of NVIDIA GPUs (K80 to B200, GH200, A10G "
        "to RTX 4090), AMD Instinct MI250/MI250X/MI300X, Intel Gaudi 2 and 3, and Google "
        "TPUs v2-v4 (measured average power for v2 and v3), for estimates",
        origin="Vendor datasheets and product briefs, named per row in `source`; "
        "corroborated against mlco2/impact data/gpus.csv (MIT), nvidia-smi and rocm-smi "
        "output and spec pages where noted",
        license="Figures reproduced as facts, with the vendor document cited per row",
        year="by release (2014-2025), in the `released` column",
        attribution="NVIDIA, AMD, Intel and Google product documentation, as cited per row",
    ),
    DataSource(
        file="gpu_peak_flops.csv",
        what="Peak dense TFLOP/s (FP32, TF32, BF16, FP16, FP8) of 19 NVIDIA and AMD "
        "accelerators (P100 to H200, MI300X), the peak a report's MFU is measured against",
        origin="Vendor datasheets and architecture whitepapers, named per row in `source`; "
        "rates quoted with structured sparsity halved to dense",
        license="Figures reproduced as facts, with the vendor document cited per row",
        year="by release (2016-2024); compiled 2026-12",
        attribution="NVIDIA and AMD product documentation, as cited per row",
    ),
    DataSource(
        file="cpu_tdp.csv",
        what="Thermal design power of Intel, AMD and Apple processors by model name, "
        "used by the estimated CPU meter",
        origin="codecarbon 3.3.2 cpu_power.csv, compiled from Intel and AMD specification pages",
        license="MIT",
        year="not dated (as shipped in codecarbon 3.3.2)",
        attribution="CPU TDP table from CodeCarbon 3.3.2 (cpu_power.csv), compiled from "
        "Intel and AMD specification pages",
    ),
    DataSource(
        file="cpu_threads.csv",
        what="Cores and threads per package of 210 Intel and AMD server, workstation and "
        "desktop processors, for a virtual machine's share of its package's TDP",
        origin="Entered by nlpfootprint from Intel ARK and AMD product pages, cited per row "
        "in `source`; names spelled as in cpu_tdp.csv",
        license="Figures reproduced as facts, with the vendor page cited per row",
        year="compiled 2026-12; parts released 2012-2024",
        attribution="Intel ARK and AMD product specifications, as cited per row",
    ),
)
