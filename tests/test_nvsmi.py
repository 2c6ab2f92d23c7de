"""Tests for packer.nvsmi, the nvidia-smi MIG text parsers, against the verbatim fixtures."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from packer.errors import InputError
from packer.nvsmi import (
    ComputeInstanceRow,
    GpuInstanceRow,
    LgippRow,
    LgipRow,
    SmiGpu,
    SmiMigDevice,
    catalog_entry,
    parse_lci,
    parse_lgi,
    parse_lgip,
    parse_lgipp,
    parse_profile_name,
    parse_smi_list,
)

MIG_DIR = Path(__file__).resolve().parents[1].parent / "shared" / "mig"
FIXTURES = MIG_DIR / "fixtures"
SMI = FIXTURES / "nvidia-smi"
SMI_FILES = sorted(p.name for p in SMI.glob("*") if p.is_file())


def read(name: str) -> str:
    """Returns the text of one fixture in fixtures/nvidia-smi."""
    return (SMI / name).read_text()


def kind_of(name: str) -> str:
    """Returns which command produced a fixture, from its file name."""
    if name == "messages.txt":
        return "messages"
    for kind in ("lgipp", "lgip", "lgi", "lci"):
        if f"_{kind}_" in name or name.endswith(f"_{kind}.txt"):
            return kind
    raise AssertionError(f"cannot tell the command of fixture {name}")


PARSERS = {"lgip": parse_lgip, "lgipp": parse_lgipp, "lgi": parse_lgi, "lci": parse_lci}
ROW_TYPES = {"lgip": LgipRow, "lgipp": LgippRow, "lgi": GpuInstanceRow, "lci": ComputeInstanceRow}


def lgip(gpu, name, pid, free, total, gib, sm, dec, enc, ce, jpeg, ofa):
    """Builds an expected LgipRow (P2P is No in every fixture)."""
    return LgipRow(gpu, name, pid, free, total, gib, False, sm, dec, enc, ce, jpeg, ofa)


def gi(name, pid, iid, start, size):
    """Builds an expected GpuInstanceRow on GPU 0."""
    return GpuInstanceRow(0, name, pid, iid, start, size)


A100_LGIPP = [
    LgippRow(0, 19, (0, 1, 2, 3, 4, 5, 6), 1),
    LgippRow(0, 20, (0, 1, 2, 3, 4, 5, 6), 1),
    LgippRow(0, 15, (0, 2, 4, 6), 2),
    LgippRow(0, 14, (0, 2, 4), 2),
    LgippRow(0, 9, (0, 4), 4),
    LgippRow(0, 5, (0,), 4),
    LgippRow(0, 0, (0,), 8),
]
A30_LGIPP_535 = [
    LgippRow(0, 14, (0, 1, 2, 3), 1),
    LgippRow(0, 21, (0, 1, 2, 3), 1),
    LgippRow(0, 5, (0, 2), 2),
    LgippRow(0, 6, (0, 2), 2),
    LgippRow(0, 0, (0,), 4),
]

# For every fixture: (number of rows, profile names in order or None, rows that must appear exactly).
# lgipp and lgi expectations list every row, in order.
EXPECTED: dict[str, tuple[int, list[str] | None, list]] = {
    "a100-pcie-40gb_lgip_old-driver.txt": (
        5,
        ["1g.5gb", "2g.10gb", "3g.20gb", "4g.20gb", "7g.40gb"],
        [lgip(0, "1g.5gb", 19, 7, 7, 4.75, 14, 0, 0, 1, 0, 0), lgip(0, "7g.40gb", 0, 1, 1, 39.50, 98, 5, 0, 7, 1, 1)],
    ),
    "a100-pcie-40gb_lgipp_old-driver.txt": (
        5,
        None,
        [A100_LGIPP[0], A100_LGIPP[3], A100_LGIPP[4], A100_LGIPP[5], A100_LGIPP[6]],
    ),
    "a100-sxm4-40gb_lgi_guide_2-1-1-1-1-1.txt": (
        6,
        None,
        [
            gi("1g.5gb", 19, 7, 0, 1),
            gi("1g.5gb", 19, 8, 1, 1),
            gi("1g.5gb", 19, 9, 2, 1),
            gi("1g.5gb", 19, 10, 3, 1),
            gi("1g.5gb", 19, 13, 6, 1),
            gi("2g.10gb", 14, 5, 4, 2),
        ],
    ),
    "a100-sxm4-40gb_lgi_guide_2x3g.20gb.txt": (2, None, [gi("3g.20gb", 9, 1, 4, 4), gi("3g.20gb", 9, 2, 0, 4)]),
    "a100-sxm4-40gb_lgi_guide_3-2-1-1.txt": (
        4,
        None,
        [gi("1g.5gb", 19, 7, 0, 1), gi("1g.5gb", 19, 8, 1, 1), gi("2g.10gb", 14, 4, 2, 2), gi("3g.20gb", 9, 2, 4, 4)],
    ),
    "a100-sxm4-40gb_lgipp_mig-user-guide.txt": (7, None, A100_LGIPP),
    "a30_lgi_2x1g.6gb_1x2g.12gb.txt": (
        3,
        None,
        [gi("1g.6gb", 14, 3, 0, 1), gi("1g.6gb", 14, 4, 1, 1), gi("2g.12gb", 5, 2, 2, 2)],
    ),
    "a30_lgi_4x1g.6gb.txt": (
        4,
        None,
        [gi("1g.6gb", 14, 3, 0, 1), gi("1g.6gb", 14, 4, 1, 1), gi("1g.6gb", 14, 5, 2, 1), gi("1g.6gb", 14, 6, 3, 1)],
    ),
    "a30_lgi_no-instances.txt": (0, None, []),
    "a30_lgip_after-4x1g.6gb.txt": (
        4,
        ["1g.6gb", "1g.6gb+me", "2g.12gb", "4g.24gb"],
        [
            lgip(0, "1g.6gb+me", 21, 0, 1, 5.81, 14, 1, 0, 1, 1, 1),
            lgip(0, "4g.24gb", 0, 0, 1, 23.50, 56, 4, 0, 4, 1, 1),
        ],
    ),
    "a30_lgip_driver-535.183.01.txt": (
        5,
        ["1g.6gb", "1g.6gb+me", "2g.12gb", "2g.12gb+me", "4g.24gb"],
        [
            lgip(0, "2g.12gb+me", 6, 1, 1, 11.69, 28, 2, 0, 2, 1, 1),
            lgip(0, "4g.24gb", 0, 1, 1, 23.44, 56, 4, 0, 4, 1, 1),
        ],
    ),
    "a30_lgipp_driver-535.183.01.txt": (5, None, A30_LGIPP_535),
    "a30_lgipp_no-profile6.txt": (4, None, [r for r in A30_LGIPP_535 if r.profile_id != 6]),
    "h100-80gb-hbm3_lci_7x1g.10gb.txt": (
        7,
        None,
        [ComputeInstanceRow(0, gi_id, "1g.10gb", 0, 0, 0, 1) for gi_id in range(7, 14)],
    ),
    "h100-80gb-hbm3_lgi_7x1g.10gb.txt": (7, None, [gi("1g.10gb", 19, 7 + i, i, 1) for i in range(7)]),
    "h100-80gb-hbm3_lgip.txt": (
        7,
        ["1g.10gb", "1g.10gb+me", "1g.20gb", "2g.20gb", "3g.40gb", "4g.40gb", "7g.80gb"],
        [
            lgip(0, "1g.10gb+me", 20, 1, 1, 9.75, 16, 1, 0, 1, 1, 1),
            lgip(0, "3g.40gb", 9, 2, 2, 39.50, 60, 3, 0, 3, 3, 0),
            lgip(0, "7g.80gb", 0, 1, 1, 79.25, 132, 7, 0, 8, 7, 1),
        ],
    ),
    "h100-80gb-hbm3_lgipp.txt": (7, None, A100_LGIPP),
    "h100-nvl_lgip_driver-560.35.03.txt": (
        7,
        ["1g.12gb", "1g.12gb+me", "1g.24gb", "2g.24gb", "3g.47gb", "4g.47gb", "7g.94gb"],
        [
            lgip(0, "1g.24gb", 15, 4, 4, 21.62, 26, 1, 0, 1, 1, 0),
            lgip(0, "7g.94gb", 0, 1, 1, 93.12, 132, 7, 0, 8, 7, 1),
        ],
    ),
    "h100-nvl_lgipp_driver-560.35.03.txt": (7, None, A100_LGIPP),
    "rtx-pro-6000-blackwell-server_lgi_2g.48gb+2x1g.24gb.txt": (
        3,
        None,
        [gi("1g.24gb", 14, 5, 6, 3), gi("1g.24gb", 14, 6, 9, 3), gi("2g.48gb", 5, 1, 0, 6)],
    ),
    "rtx-pro-6000-blackwell-server_lgi_4x1g.24gb.txt": (
        4,
        None,
        [
            gi("1g.24gb", 14, 3, 0, 3),
            gi("1g.24gb", 14, 4, 3, 3),
            gi("1g.24gb", 14, 5, 6, 3),
            gi("1g.24gb", 14, 6, 9, 3),
        ],
    ),
    "rtx-pro-6000-blackwell-server_lgip.txt": (
        11,
        [
            "1g.24gb",
            "1g.24gb+me",
            "1g.24gb+gfx",
            "1g.24gb+me.all",
            "1g.24gb-me",
            "2g.48gb",
            "2g.48gb+gfx",
            "2g.48gb+me.all",
            "2g.48gb-me",
            "4g.96gb",
            "4g.96gb+gfx",
        ],
        [
            lgip(0, "1g.24gb+me.all", 65, 1, 1, 23.62, 46, 4, 4, 1, 4, 1),
            lgip(0, "1g.24gb-me", 67, 4, 4, 23.62, 46, 0, 0, 1, 0, 0),
            lgip(0, "4g.96gb+gfx", 32, 1, 1, 95.12, 188, 4, 4, 4, 4, 1),
        ],
    ),
    "rtx-pro-6000-blackwell-server_lgipp.txt": (
        11,
        None,
        [LgippRow(0, pid, (0, 3, 6, 9), 3) for pid in (14, 21, 47, 65, 67)]
        + [LgippRow(0, pid, (0, 6), 6) for pid in (5, 35, 64, 66)]
        + [LgippRow(0, 0, (0,), 12), LgippRow(0, 32, (0,), 12)],
    ),
}

# messages.txt: which parsers give [] for a line (every other parser raises InputError for it).
MESSAGE_EMPTY = {
    "No MIG-enabled devices found.": {"lgip", "lgipp", "lgi", "lci"},
    "No GPU instances found: Not Found": {"lgi"},
}


def test_fixture_directory_is_there():
    """Tests that the shared fixture directory holds nvidia-smi transcripts to check."""
    assert len(SMI_FILES) >= 20, SMI


@pytest.mark.parametrize("name", SMI_FILES)
def test_fixture_parses_to_expected_rows(name):
    """Tests that every nvidia-smi fixture parses with its own parser to the exact rows in the file."""
    kind = kind_of(name)
    text = read(name)
    if kind == "messages":
        lines = [line for line in text.splitlines() if line.strip()]
        assert len(lines) == 15
        for line in lines:
            for parser_kind, parser in PARSERS.items():
                if parser_kind in MESSAGE_EMPTY.get(line, set()):
                    assert parser(line + "\n") == [], (parser_kind, line)
                else:
                    with pytest.raises(InputError, match="line 1"):
                        parser(line + "\n")
        return
    assert name in EXPECTED, f"new fixture {name}: add its expected rows to EXPECTED"
    count, names, must_have = EXPECTED[name]
    rows = PARSERS[kind](text)
    assert len(rows) == count
    assert all(type(r) is ROW_TYPES[kind] for r in rows)
    if names is not None:
        assert [r.name for r in rows] == names
    if kind in ("lgipp", "lgi", "lci"):
        assert rows == must_have
    else:
        for row in must_have:
            assert row in rows


@pytest.mark.parametrize("name", [n for n in SMI_FILES if n != "messages.txt" and "no-instances" not in n])
def test_fixture_rejected_by_other_parsers(name):
    """Tests that each table is refused, with a line number, by the parsers of the other commands."""
    kind = kind_of(name)
    text = read(name)
    for other, parser in PARSERS.items():
        if other != kind:
            with pytest.raises(InputError, match=r"line \d+"):
                parser(text)


def test_lgip_total_is_kept_when_free_is_zero():
    """Tests that Free/Total splits into free and total after instances are created."""
    rows = {r.profile_id: r for r in parse_lgip(read("a30_lgip_after-4x1g.6gb.txt"))}
    assert [(rows[p].free, rows[p].total) for p in (14, 21, 5, 0)] == [(0, 4), (0, 1), (0, 2), (0, 1)]


def test_lgip_several_gpus_in_one_table():
    """Tests that one -lgip table with rows for GPUs 2, 3 and 6 keeps each row's GPU index."""
    lines = read("h100-80gb-hbm3_lgip.txt").splitlines()
    head, body = lines[:5], lines[5:8]  # header, then 1g.10gb's two rows and its border
    table = list(head)
    for gpu in (2, 3, 6):
        table += [body[0].replace("|   0  ", f"|   {gpu}  ", 1), body[1], body[2]]
    rows = parse_lgip("\n".join(table) + "\n")
    assert [(r.gpu, r.name, r.profile_id, r.total) for r in rows] == [
        (2, "1g.10gb", 19, 7),
        (3, "1g.10gb", 19, 7),
        (6, "1g.10gb", 19, 7),
    ]


def test_lgip_collapsed_spaces_still_parse():
    """Tests that a -lgip table whose runs of spaces were collapsed (as on web pages) parses the same."""
    text = read("rtx-pro-6000-blackwell-server_lgip.txt")
    collapsed = "\n".join(" ".join(line.split()) for line in text.splitlines())
    assert parse_lgip(collapsed) == parse_lgip(text)


def test_lgipp_both_placement_spellings():
    """Tests that 'Placements:' and 'Placement :' lines both parse, with one or more starts."""
    rows = parse_lgipp("GPU  1 Profile ID  9 Placements: {0,4}:4\nGPU  1 Profile ID  0 Placement : {0}:8\r\n")
    assert rows == [LgippRow(1, 9, (0, 4), 4), LgippRow(1, 0, (0,), 8)]


def test_lci_without_placement_column():
    """Tests that the older -lci table without a Placement column gives start and size None."""
    text = (
        "+--------------------------------------------------------------------+\n"
        "| Compute instance:                                                  |\n"
        "| GPU     GPU       Name             Profile   Instance               |\n"
        "|       Instance                       ID        ID                  |\n"
        "|         ID                                                         |\n"
        "|====================================================================|\n"
        "|   0      1       MIG 3g.20gb          2         0                  |\n"
        "+--------------------------------------------------------------------+\n"
        "|   0      2       MIG 1c.3g.20gb       0         1                  |\n"
        "+--------------------------------------------------------------------+\n"
    )
    assert parse_lci(text) == [
        ComputeInstanceRow(0, 1, "3g.20gb", 2, 0, None, None),
        ComputeInstanceRow(0, 2, "1c.3g.20gb", 0, 1, None, None),
    ]


def test_smi_list_mixed_fixture():
    """Tests that nvidia-smi -L with MIG devices gives the GPU and each device's name, index and UUID."""
    text = (FIXTURES / "NVIDIA-cloud-native-docs_gpu-operator_manifests_output_mig-mixed-nvidia-smi.txt").read_text()
    gpus = parse_smi_list(text)
    assert len(gpus) == 1
    gpu = gpus[0]
    assert (gpu.index, gpu.name, gpu.uuid) == (0, "NVIDIA H100 80GB HBM3", "GPU-b4895dbf-9350-2524-a89b-98161ddd9fe4")
    assert [(d.name, d.index) for d in gpu.mig_devices] == [
        ("3g.40gb", 0),
        ("2g.20gb", 1),
        ("1g.10gb", 2),
        ("1g.10gb", 3),
    ]
    assert gpu.mig_devices[0] == SmiMigDevice("3g.40gb", 0, "MIG-7089d0f3-293f-58c9-8f8c-5ea666eedbde", None, None)


def test_smi_list_single_fixture():
    """Tests that the 7x1g.10gb nvidia-smi -L fixture lists seven devices numbered 0 to 6."""
    text = (FIXTURES / "NVIDIA-cloud-native-docs_gpu-operator_manifests_output_mig-nvidia-smi.txt").read_text()
    (gpu,) = parse_smi_list(text)
    assert [d.index for d in gpu.mig_devices] == list(range(7))
    assert {d.name for d in gpu.mig_devices} == {"1g.10gb"}
    assert gpu.mig_devices[6].uuid == "MIG-981c86e9-3607-57d7-9426-295347e4b925"


def test_smi_list_old_uuid_form_and_plain_gpus():
    """Tests that old MIG-GPU-<uuid>/<gi>/<ci> names give GI and CI IDs, and GPUs without MIG have no devices."""
    text = (
        "GPU 0: A100-PCIE-40GB (UUID: GPU-0069414c-9f30-41f9-d5d8-87890423f0c4)\n"
        "  MIG 1g.5gb Device 0: (UUID: MIG-GPU-0069414c-9f30-41f9-d5d8-87890423f0c4/7/0)\n"
        "GPU 1: NVIDIA A30 (UUID: GPU-11111111-2222-3333-4444-555555555555)\n"
    )
    assert parse_smi_list(text) == [
        SmiGpu(
            0,
            "A100-PCIE-40GB",
            "GPU-0069414c-9f30-41f9-d5d8-87890423f0c4",
            (SmiMigDevice("1g.5gb", 0, "MIG-GPU-0069414c-9f30-41f9-d5d8-87890423f0c4/7/0", 7, 0),),
        ),
        SmiGpu(1, "NVIDIA A30", "GPU-11111111-2222-3333-4444-555555555555", ()),
    ]


@pytest.mark.parametrize(
    ("text", "where"),
    [
        ("  MIG 1g.5gb Device 0: (UUID: MIG-7089d0f3-293f-58c9-8f8c-5ea666eedbde)\n", "line 1"),
        (
            "GPU 0: X (UUID: GPU-b4895dbf-9350-2524-a89b-98161ddd9fe4)\n  MIG 1g.5gb Device 0: (UUID: MIG-zz)\n",
            "line 2",
        ),
        ("GPU 0: X (UUID: GPU-b4895dbf-9350-2524-a89b-98161ddd9fe4)\nhello\n", "line 2"),
    ],
)
def test_smi_list_rejects_bad_lines(text, where):
    """Tests that nvidia-smi -L parsing refuses orphan devices, bad UUIDs and stray lines, naming the line."""
    with pytest.raises(InputError) as err:
        parse_smi_list(text)
    assert err.value.field == where


def test_profile_name_parts():
    """Tests that profile names split into CI slices, G, GB and attribute."""
    assert parse_profile_name("1g.24gb+me.all") == (None, 1, 24, "+me.all")
    assert parse_profile_name("1c.3g.20gb") == (1, 3, 20, None)
    assert parse_profile_name("2g.48gb-me") == (None, 2, 48, "-me")
    with pytest.raises(InputError):
        parse_profile_name("1g.24gb+me.al")


# --------------------------------------------------------------------------- malformed input


def replace_line(text: str, lineno: int, new: str | None) -> str:
    """Returns text with its 1-based line ``lineno`` replaced (or removed when new is None)."""
    lines = text.splitlines()
    if new is None:
        del lines[lineno - 1]
    else:
        lines[lineno - 1] = new
    return "\n".join(lines) + "\n"


def test_lgip_truncated_row():
    """Tests that a -lgip row missing its ENC cell is refused naming the line and the cells expected."""
    text = read("h100-80gb-hbm3_lgip.txt")
    bad = replace_line(text, 18, "|   0  MIG 3g.40gb        9     2/2        39.50      No     60     3         |")
    with pytest.raises(InputError, match="expected 10 cells") as err:
        parse_lgip(bad)
    assert err.value.field == "line 18"
    assert "line 18" in str(err.value)


def test_lgip_missing_second_row():
    """Tests that a -lgip profile with only one of its two rows is refused at that profile."""
    text = read("a30_lgip_driver-535.183.01.txt")
    with pytest.raises(InputError, match="2 rows") as err:
        parse_lgip(replace_line(text, 10, None))
    assert err.value.field == "line 9"


def test_lgip_garbage_line_inside_table():
    """Tests that a line that is not a table row inside a -lgip table is refused naming it."""
    text = read("rtx-pro-6000-blackwell-server_lgip.txt")
    bad = replace_line(text, 12, "some text pasted in here")
    with pytest.raises(InputError, match="unexpected line inside") as err:
        parse_lgip(bad)
    assert err.value.field == "line 12"


def test_lgip_bad_cells():
    """Tests that non-numeric cells, bad Free/Total and bad profile names are refused naming the line."""
    text = read("h100-80gb-hbm3_lgip.txt")
    cases = [
        ("|   0  MIG 3g.40gb        9     2-2        39.50      No     60     3     0   |", "Free/Total"),
        ("|   0  MIG 3g.40gb        9     2/2        39.50      No     6x     3     0   |", "SM"),
        ("|   0  MIG 3g.40gb        9     2/2        39.50      Maybe  60     3     0   |", "P2P"),
        ("|   0  MIG 3g.40        9     2/2        39.50      No     60     3     0     |", "profile name"),
    ]
    for line, what in cases:
        with pytest.raises(InputError, match=what) as err:
            parse_lgip(replace_line(text, 18, line))
        assert err.value.field == "line 18"


def test_lgip_truncated_table():
    """Tests that a -lgip table cut off before its closing border is refused."""
    lines = read("h100-80gb-hbm3_lgip.txt").splitlines()
    with pytest.raises(InputError, match="truncated") as err:
        parse_lgip("\n".join(lines[:-2]))
    assert err.value.field == f"line {len(lines) - 2}"


def test_lgipp_bad_lines():
    """Tests that malformed -lgipp lines are refused naming the line."""
    text = read("rtx-pro-6000-blackwell-server_lgipp.txt")
    for bad in ("GPU  0 Profile ID 35 Placements: {0,6}", "GPU  0 Profile ID 35 Placements: {0,,6}:6", "garbage"):
        with pytest.raises(InputError) as err:
            parse_lgipp(replace_line(text, 7, bad))
        assert err.value.field == "line 7"


def test_lgi_truncated_row_and_bad_placement():
    """Tests that -lgi rows without a placement cell or with a bad one are refused naming the line."""
    text = read("a100-sxm4-40gb_lgi_guide_3-2-1-1.txt")
    with pytest.raises(InputError, match="expected 6 cells") as err:
        parse_lgi(replace_line(text, 10, "|   0  MIG 2g.10gb      14        4                |"))
    assert err.value.field == "line 10"
    with pytest.raises(InputError, match="placement") as err:
        parse_lgi(replace_line(text, 10, "|   0  MIG 2g.10gb      14        4          2-2     |"))
    assert err.value.field == "line 10"


def test_lci_truncated_row():
    """Tests that a -lci row missing its placement cell is refused when the header has that column."""
    text = read("h100-80gb-hbm3_lci_7x1g.10gb.txt")
    with pytest.raises(InputError, match="expected 7 cells") as err:
        parse_lci(replace_line(text, 9, "|   0      8       MIG 1g.10gb          0         0                |"))
    assert err.value.field == "line 9"


def test_empty_input_refused():
    """Tests that empty output is refused by every parser rather than read as an empty list."""
    for parser in (*PARSERS.values(), parse_smi_list):
        with pytest.raises(InputError, match="empty"):
            parser("  \n")


# --------------------------------------------------------------------------- catalog entries

CATALOG = json.loads((MIG_DIR / "catalog.json").read_text())
MODELS = {m["name"]: m for m in CATALOG["models"]}

PAIRS = [
    ("A30-24GB", "a30_lgip_driver-535.183.01.txt", "a30_lgipp_driver-535.183.01.txt"),
    ("A100-40GB", "a100-pcie-40gb_lgip_old-driver.txt", "a100-pcie-40gb_lgipp_old-driver.txt"),
    ("H100-80GB", "h100-80gb-hbm3_lgip.txt", "h100-80gb-hbm3_lgipp.txt"),
    ("H100-94GB", "h100-nvl_lgip_driver-560.35.03.txt", "h100-nvl_lgipp_driver-560.35.03.txt"),
    ("RTX-PRO-6000-96GB", "rtx-pro-6000-blackwell-server_lgip.txt", "rtx-pro-6000-blackwell-server_lgipp.txt"),
]
PROFILE_FIELDS = (
    "id",
    "compute",
    "memory_positions_used",
    "starts",
    "max_count",
    "media_extensions",
    "attribute",
    "sm",
)


@pytest.mark.parametrize(("model", "lgip_file", "lgipp_file"), PAIRS)
def test_catalog_entry_matches_catalog(model, lgip_file, lgipp_file):
    """Tests that catalog_entry built from a model's -lgip/-lgipp fixtures agrees with catalog.json."""
    want = MODELS[model]
    got = catalog_entry(read(lgip_file), read(lgipp_file), name=model, aliases=want["aliases"])
    for key in ("name", "aliases", "compute_slices", "memory_positions", "memory_gb", "max_gpu_instances"):
        assert got[key] == want[key], key
    assert set(got) == set(want) - {"notes"}
    want_profiles = {p["name"]: p for p in want["profiles"]}
    assert len(got["profiles"]) == len(parse_lgip(read(lgip_file)))
    for profile in got["profiles"]:
        assert set(profile) <= set(want_profiles[profile["name"]]), profile["name"]
        for field in PROFILE_FIELDS:
            assert profile[field] == want_profiles[profile["name"]][field], (profile["name"], field)
        assert profile["inferred"] is False and profile["ug_memory_fraction"] is None


def test_catalog_entry_fixed_fields_and_order():
    """Tests the fixed fields of catalog_entry and that profiles keep the -lgip order."""
    got = catalog_entry(read("a30_lgip_after-4x1g.6gb.txt"), read("a30_lgipp_no-profile6.txt"), name="A30-24GB")
    assert got["aliases"] == [] and got["pci_device_ids"] == [] and got["pci_device_ids_partial"] is False
    assert got["placements_confirmed"] is True and got["memory_positions_inferred"] is False
    assert got["placements_source"] == "nvidia-smi mig -lgip/-lgipp"
    assert [p["id"] for p in got["profiles"]] == [14, 21, 5, 0]
    assert [p["max_count"] for p in got["profiles"]] == [4, 1, 2, 1]  # Total, not Free (every Free is 0 here)
    assert got["profiles"][3]["memory_gib"] == 23.50
    assert (got["memory_gb"], got["memory_positions"], got["max_gpu_instances"]) == (24, 4, 4)
    json.dumps(got)  # the entry is plain JSON data


def test_catalog_entry_memory_gb_given():
    """Tests that an explicit memory_gb wins over the one in the full-GPU profile name."""
    got = catalog_entry(read("h100-80gb-hbm3_lgip.txt"), read("h100-80gb-hbm3_lgipp.txt"), name="x", memory_gb=81)
    assert got["memory_gb"] == 81


def test_catalog_entry_lgip_profile_without_lgipp():
    """Tests that a -lgip profile with no -lgipp line is refused naming the profile ID."""
    with pytest.raises(InputError, match="profile 6") as err:
        catalog_entry(read("a30_lgip_driver-535.183.01.txt"), read("a30_lgipp_no-profile6.txt"), name="A30-24GB")
    assert err.value.field == "profile 6"
    assert "no -lgipp" in err.value.message


def test_catalog_entry_lgipp_profile_without_lgip():
    """Tests that pairing the old A100 -lgip with the user-guide -lgipp is refused at the extra profile."""
    with pytest.raises(InputError, match="not in -lgip") as err:
        catalog_entry(
            read("a100-pcie-40gb_lgip_old-driver.txt"), read("a100-sxm4-40gb_lgipp_mig-user-guide.txt"), name="A100"
        )
    assert err.value.field == "profile 20"


def test_catalog_entry_wrong_gpu():
    """Tests that asking for a GPU that the output does not list is refused."""
    with pytest.raises(InputError, match="GPU 3"):
        catalog_entry(read("h100-80gb-hbm3_lgip.txt"), read("h100-80gb-hbm3_lgipp.txt"), name="x", gpu=3)
