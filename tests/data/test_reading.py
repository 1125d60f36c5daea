"""Reading files: encodings, field counts, header names, NUL bytes, archives, permissions.

Each bad file is refused with one message naming the file, what is wrong, the lines at fault
and the fix, through the Python reader and through ``retaillab validate`` (exit code 2).
"""

from __future__ import annotations

import gzip
import os
import zipfile

import pandas as pd
import pytest

from retaillab import data
from retaillab.cli import main
from retaillab.data import reading
from retaillab.errors import DataError, ParameterError

from .conftest import validate_error

TX = "customer,date,amount\n"




def test_cp1252_file_is_refused_as_utf8_and_read_with_its_encoding(tmp_path, capsys):
    path = tmp_path / "shop.csv"
    path.write_bytes("customer,date,amount,shop\n1,2024-01-01,3,caf\u00e9\n".encode("cp1252"))
    with pytest.raises(DataError) as info:
        data.read_transactions(path)
    message = str(info.value)
    assert "line 2" in message and "UTF-8" in message and "encoding='cp1252'" in message
    assert "--encoding cp1252" in validate_error(capsys, "transactions", str(path))
    tx = data.read_transactions(path, encoding="cp1252")
    assert tx["shop"].tolist() == ["caf\u00e9"]
    assert main(["validate", "transactions", str(path), "--encoding", "cp1252"]) == 0


@pytest.mark.parametrize("codec", ["utf-16", "utf-16-be", "utf-32"])
def test_utf16_and_utf32_with_a_byte_order_mark_read_without_options(tmp_path, codec):
    path = tmp_path / "export.csv"
    text = "customer\tdate\tamount\tshop\n1\t2024-01-01\t3.5\tcaf\u00e9\n2\t2024-01-02\t4\tb\n"
    body = text.encode(codec)
    if codec == "utf-16-be":
        body = b"\xfe\xff" + body  # the explicit-endian codecs write no mark of their own
    path.write_bytes(body)
    tx = data.read_transactions(path)
    assert tx["shop"].tolist() == ["caf\u00e9", "b"] and tx["amount"].tolist() == [3.5, 4.0]
    assert tx["customer"].tolist() == [1, 2]


def test_utf8_bom_is_not_part_of_the_first_column_name(tmp_path):
    path = tmp_path / "bom.csv"
    path.write_bytes(b"\xef\xbb\xbf" + (TX + "1,2024-01-01,3\n").encode())
    assert data.read_transactions(path)["customer"].tolist() == [1]


def test_unknown_encoding_is_a_parameter_error(tmp_path):
    path = tmp_path / "x.csv"
    path.write_text(TX + "1,2024-01-01,3\n")
    with pytest.raises(ParameterError, match="encoding"):
        data.read_transactions(path, encoding="no-such-codec")


def test_rows_with_extra_and_missing_fields_are_reported_with_their_lines(tmp_path, capsys):
    path = tmp_path / "shifted.csv"
    path.write_text(TX + "1,2024-01-01,3\n2,2024-01-02,4,5\n\n3,2024-01-03\n4,2024-01-04,1\n")
    with pytest.raises(DataError) as info:
        data.read_transactions(path)
    message = str(info.value)
    assert "1 lines have more fields than the header's 3" in message
    assert "line 3: fields=4" in message  # 2,2024-01-02,4,5
    assert "1 lines have fewer fields than the header's 3" in message
    assert "line 5: fields=2" in message  # after the blank line 4
    assert len(info.value.problems) == 2
    assert "more fields" in validate_error(capsys, "transactions", str(path))


def test_quoted_newlines_and_blank_lines_keep_line_numbers_right(tmp_path):
    path = tmp_path / "quoted.csv"
    path.write_text('customer,date,amount,note\n1,2024-01-01,3,"two\nlines"\n\n'
                    "2,2024-01-02,-4,x\n")
    with pytest.raises(DataError, match="negative") as info:
        data.read_transactions(path)
    assert "line 5" in str(info.value)  # header 1, record 2-3, blank 4, the bad row 5


def test_repeated_header_names_are_refused(tmp_path, capsys):
    path = tmp_path / "dup.csv"
    path.write_text("customer,date,amount,amount\n1,2024-01-01,3,4\n")
    with pytest.raises(DataError) as info:
        data.read_transactions(path)
    assert "'amount' (columns 3, 4)" in str(info.value) and "rename" in str(info.value)
    assert "repeats column names" in validate_error(capsys, "transactions", str(path))


def test_nul_bytes_are_refused_with_their_lines(tmp_path, capsys):
    path = tmp_path / "nul.csv"
    path.write_bytes((TX + "1,2024-01-01,3\n2,2024-01-02,4\x00\n").encode())
    with pytest.raises(DataError) as info:
        data.read_transactions(path)
    assert "NUL" in str(info.value) and "line 3" in str(info.value)
    assert "NUL" in validate_error(capsys, "transactions", str(path))


def test_unreadable_file(tmp_path, capsys, monkeypatch):
    path = tmp_path / "locked.csv"
    path.write_text(TX + "1,2024-01-01,3\n")
    path.chmod(0)
    if os.geteuid() == 0:  # root reads anything: make the open fail as it would for a user
        real = reading._open_binary

        def denied(p):
            if p == path:
                raise PermissionError(13, "Permission denied")
            return real(p)

        monkeypatch.setattr(reading, "_open_binary", denied)
    try:
        err = validate_error(capsys, "transactions", str(path))
    finally:
        path.chmod(0o644)
    assert "cannot be read (Permission denied)" in err and "permissions" in err


def test_truncated_gzip(tmp_path, capsys):
    path = tmp_path / "orders.csv.gz"
    whole = gzip.compress((TX + "".join(f"{i},2024-01-01,{i}\n" for i in range(5000))).encode())
    path.write_bytes(whole[: len(whole) // 2])
    err = validate_error(capsys, "transactions", str(path))
    assert "damaged or cut short" in err and str(path) in err


def test_gzip_and_single_file_zip_are_read(tmp_path):
    text = TX + "1,2024-01-01,3\n2,2024-01-02,4\n"
    gz = tmp_path / "o.csv.gz"
    gz.write_bytes(gzip.compress(text.encode()))
    one = tmp_path / "o.zip"
    with zipfile.ZipFile(one, "w") as archive:
        archive.writestr("o.csv", text)
    for path in (gz, one):
        assert data.read_transactions(path)["amount"].tolist() == [3.0, 4.0]


def test_zip_with_two_files_is_refused(tmp_path, capsys):
    path = tmp_path / "two.zip"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("a.csv", TX + "1,2024-01-01,3\n")
        archive.writestr("b.csv", TX + "2,2024-01-01,3\n")
    err = validate_error(capsys, "transactions", str(path))
    assert "holds 2 files" in err and "'a.csv'" in err and "unzip" in err


def test_empty_sep_is_refused(tmp_path, capsys):
    path = tmp_path / "o.csv"
    path.write_text(TX + "1,2024-01-01,3\n")
    with pytest.raises(ParameterError, match="sep"):
        data.read_transactions(path, sep="")
    assert "sep must be" in validate_error(capsys, "transactions", str(path), "--sep", "")


def test_multi_character_separator_is_read_by_pandas(tmp_path):
    path = tmp_path / "o.txt"
    path.write_text("customer::date::amount\n1::2024-01-01::3\n\n2::2024-01-02::-1\n")
    with pytest.raises(DataError, match="negative") as info:
        data.read_transactions(path, sep="::")
    assert "line 4" in str(info.value)


def test_blank_lines_are_not_rows_read(tmp_path):
    path = tmp_path / "o.csv"
    path.write_text(TX + "1,2024-01-01,3\n\n,,\n2,2024-01-02,4\n   \n")
    from retaillab.data.quality import Quality

    quality = Quality()
    tx = data.read_transactions(path, quality=quality)
    assert len(tx) == 2 and quality.rows_read == 2 and quality.rows == 2
    assert quality.source == str(path) and quality.kind == "transactions"
    assert quality.date_min == "2024-01-01" and quality.date_max == "2024-01-02"


def test_text_columns_are_arrow_backed_strings(tmp_path):
    path = tmp_path / "o.csv"
    path.write_text(TX.strip() + ",note\n1,2024-01-01,3,x\n")
    tx = data.read_transactions(path)
    assert isinstance(tx["note"].dtype, pd.StringDtype) and tx["note"].dtype.storage == "pyarrow"


def test_many_small_blocks_and_a_quoted_newline_read_right(tmp_path, monkeypatch):
    monkeypatch.setattr(reading, "BLOCK_SIZE", 64)  # many blocks, parsed in parallel
    rows = [f'{i},2024-01-{1 + i % 28:02d},{i}.5,"note {i}"' for i in range(300)]
    rows[150] = '150,2024-01-11,150.5,"a note\nover two lines"'
    body = "customer,date,amount,note\n" + "\n".join(rows) + "\n"
    path = tmp_path / "ok.csv"
    path.write_text(body)
    tx = data.read_transactions(path)
    assert len(tx) == 300 and tx["note"].iloc[150] == "a note\nover two lines"
    assert tx["customer"].tolist() == list(range(300))
    assert tx["amount"].iloc[299] == 299.5 and tx["date"].iloc[27] == pd.Timestamp("2024-01-28")
    path = tmp_path / "bad.csv"
    path.write_text(body + "301,2024-02-01,-1,x\n")
    with pytest.raises(DataError, match="negative") as info:
        data.read_transactions(path)
    assert "line 303" in str(info.value)  # 1 header + 300 rows + 1 extra line of the note


def test_a_row_of_spaces_is_a_row_and_keeps_the_lines_after_it_right(tmp_path):
    path = tmp_path / "spaces.csv"
    path.write_text(TX + "1,2024-01-01,3\n , , \n,,\n2,2024-01-02,-4\n")
    with pytest.raises(DataError) as info:
        data.read_transactions(path)
    problems = info.value.problems
    assert [p.column for p in problems] == ["customer", "date", "amount"]
    assert ["no id" in problems[0].what, "no date" in problems[1].what,
            "no value" in problems[2].what] == [True] * 3
    assert all(p.rows.index.tolist() == [3] for p in problems)
    with pytest.raises(DataError, match="negative") as info:
        data.read_transactions(path, missing_ids="drop")
    assert "line 5" in str(info.value)
