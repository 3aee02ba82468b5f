"""CSV files and survey-platform CSV exports built byte for byte: every answer stored exactly as answered, or
the file refused with nothing stored; nothing lost silently; personal data minimised."""
from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
import yaml

from ingest_helpers import IND, REPO, ROUND, query, read_issues

MAPPING = REPO / "instruments" / "mappings" / "individual_review.platform.v1.yaml"
COLUMNS = yaml.safe_load(MAPPING.read_text(encoding="utf-8"))["columns"]
BY_FIELD = {f: c for c, f in COLUMNS.items()}
PERSONAL = ["Recipient Email", "IP Address"]
ANSWERS = {"group": "Current STP trainee", "stream": "Genomics", "trust_code": "RJ1", "training_year": "Year 2",
           "years_nhs": "2", "ret_plans": "Agree", "ret_offer": "Strongly agree", "ret_promotion": "Neutral",
           "ret_elsewhere": "Disagree", "ret_recommend": "Agree", "use_skills": "Agree", "use_routine": "Disagree",
           "use_understood": "Agree", "use_research": "Agree", "eq_give_more": "Agree", "eq_get_more": "Disagree",
           "eq_hard_work": "Strongly agree", "eq_owed": "Disagree", "eq_contribute": "Agree"}
COMMENTS = [
    '"health informatics" means.',                          # a quoted phrase at the start of an answer
    'We need "time", money, and staff',                     # a quoted word followed by a comma
    "Line one\r\nLine two\nLine three",                      # line breaks inside an answer
    "Cost £40, café, naïve; a; b",                          # text a Windows-1252 file can hold
    'He said ""x"" twice, then "y"',
]


def field(text: str) -> str:
    """One CSV field as RFC 4180 writes it: quoted when it holds a quote, comma or line break."""
    if any(ch in text for ch in '",\r\n'):
        return '"' + text.replace('"', '""') + '"'
    return text


def export_text(comments: list[str], *, drop: tuple[str, ...] = (), extra: dict | None = None) -> str:
    header = ["Response ID", *PERSONAL, *(c for c in COLUMNS if c not in drop)]
    lines = [",".join(field(h) for h in header)]
    for n, comment in enumerate(comments, start=1):
        answers = {**ANSWERS, "respondent_id": f"P-{n:03d}", "comment_keep": comment, "comment_other": "",
                   **(extra or {})}
        row = [f"R_{n}", f"person{n}@example.org", f"192.0.2.{n}"]
        row += [answers[f] for c, f in COLUMNS.items() if c not in drop]
        lines.append(",".join(field(v) for v in row))
    return "\r\n".join(lines) + "\r\n"


def write(tmp_path: Path, data: bytes, name: str = f"export_{ROUND}.csv") -> Path:
    path = tmp_path / "in" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def ingest(run, tmp_path: Path, path: Path, *extra, expect: int = 0):
    return run("ingest", path, "--db", tmp_path / "s.duckdb", "--out", tmp_path / "run", "--engine", "pandas",
               *extra, expect=expect)


def stored_comments(db: Path) -> list[str]:
    return query(db, "SELECT value FROM answers WHERE field_id = 'comment_keep' ORDER BY org_code").value.tolist()


def nothing_stored(db: Path) -> bool:
    return not db.exists() or query(db, "SELECT (SELECT count(*) FROM submissions) + (SELECT count(*) FROM answers) "
                                        "AS n").n.iloc[0] == 0


@pytest.mark.parametrize("encoding, bom", [("utf-8", b""), ("utf-8", b"\xef\xbb\xbf"), ("cp1252", b"")])
def test_platform_csv__quotes_commas_line_breaks__every_answer_stored_exactly(run, tmp_path, encoding, bom):
    path = write(tmp_path, bom + export_text(COMMENTS).encode(encoding))
    ingest(run, tmp_path, path)
    db = tmp_path / "s.duckdb"
    assert stored_comments(db) == COMMENTS
    assert query(db, "SELECT count(*) AS n FROM submissions").n.iloc[0] == len(COMMENTS)
    likert = query(db, "SELECT value_num FROM answers WHERE field_id = 'ret_offer'").value_num.tolist()
    assert likert == [5] * len(COMMENTS)
    codes = read_issues(tmp_path / "run").code.tolist()
    assert codes.count("W030") == (1 if encoding == "cp1252" else 0)   # said once, not lost in split_cases


@pytest.mark.parametrize("cut, what", [
    (lambda text: text[:text.index("Line two")], "cut off inside a quoted field"),
    (lambda text: text.rstrip("\r\n").rsplit(",", 3)[0], "the last record is short"),
])
def test_platform_csv__truncated__refused_and_nothing_stored(run, tmp_path, cut, what):
    path = write(tmp_path, cut(export_text(COMMENTS)).encode("utf-8"))
    result = ingest(run, tmp_path, path, expect=1)
    issues = read_issues(tmp_path / "run")
    assert issues.code.tolist() == ["F001"] and "truncated" in issues.message[0] and what in issues.message[0]
    assert "UNREADABLE" in result.stdout and nothing_stored(tmp_path / "s.duckdb")
    from trust_survey.common.hashing import sha256_file

    quarantined = sorted(p.name for p in (tmp_path / "quarantine").iterdir())
    assert quarantined == [f"{sha256_file(path)}_{path.name}.reason.txt"]   # no copy of the personal columns
    assert "could not be read to remove them" in (tmp_path / "quarantine" / quarantined[0]).read_text()


def test_platform_csv__over_wide_row__refused_naming_the_record(run, tmp_path):
    lines = export_text(COMMENTS[:1] * 4).split("\r\n")
    lines[2] = lines[2].replace("Agree,", "Agree,,", 1)   # record 3 gains a field
    path = write(tmp_path, "\r\n".join(lines).encode("utf-8"))
    ingest(run, tmp_path, path, expect=1)
    issues = read_issues(tmp_path / "run")
    assert issues.code.tolist() == ["F001"] and "malformed" in issues.message[0]
    assert "record 3 has" in issues.message[0] and nothing_stored(tmp_path / "s.duckdb")


def test_platform_csv__answers_with_line_breaks__count_as_records_not_lines(tmp_path):
    from trust_survey.ingest.readers import MAX_DATA_ROWS, read_csv

    many = ["a\nb\nc\nd"] * (MAX_DATA_ROWS // 3)   # four lines each: more lines than the limit, fewer records
    path = write(tmp_path, export_text(many).encode("utf-8"))
    record = read_csv(path)
    assert len(record.rows) == len(many) and record.numbers[-1] == len(many) + 1
    assert path.read_bytes().count(b"\n") > MAX_DATA_ROWS


def test_platform_csv__mapped_item_column_missing__refused_unless_optional(run, tmp_path):
    years = BY_FIELD["years_nhs"]
    text = export_text(COMMENTS[:2], drop=(years,)).replace("Response ID,", "Response ID,Q5 - Years in NHS,", 1)
    text = text.replace("R_1,", "R_1,2,").replace("R_2,", "R_2,3,")
    path = write(tmp_path, text.encode("utf-8"))
    ingest(run, tmp_path, path, expect=1)
    issues = read_issues(tmp_path / "run")
    p002 = issues[issues.code == "P002"].iloc[0]
    assert p002.severity == "error" and "did you mean 'Q5 - Years in NHS'" in p002.message
    assert "optional: true" in p002.message and nothing_stored(tmp_path / "s.duckdb")

    mapping = yaml.safe_load(MAPPING.read_text(encoding="utf-8"))
    mapping["columns"][years] = {"field": "years_nhs", "optional": True}
    lenient = tmp_path / "lenient.yaml"
    lenient.write_text(yaml.safe_dump(mapping, sort_keys=False), encoding="utf-8")
    run("ingest", path, "--mapping", lenient, "--db", tmp_path / "s.duckdb", "--out", tmp_path / "run2",
        "--engine", "pandas")
    issues = read_issues(tmp_path / "run2")
    assert issues[issues.code == "P002"].severity.tolist() == ["warning"]
    assert stored_comments(tmp_path / "s.duckdb") == COMMENTS[:2]


def test_platform_csv__renamed_id_column__one_file_error_with_a_suggestion(run, tmp_path):
    id_column = BY_FIELD["respondent_id"]
    text = export_text(COMMENTS[:3]).replace(id_column, "Custom Data 01", 1)
    path = write(tmp_path, text.encode("utf-8"))
    ingest(run, tmp_path, path, expect=1)
    issues = read_issues(tmp_path / "run")
    errors = issues[issues.severity == "error"]
    assert errors.code.tolist() == ["P002"] and "respondent id column" in errors.message.iloc[0]
    assert "did you mean 'Custom Data 01'" in errors.message.iloc[0]
    assert "P001" in issues.code.tolist() and nothing_stored(tmp_path / "s.duckdb")


def test_individual_csv__missing_id_variable__one_file_error_and_its_findings_kept(run, tmp_path):
    rows = "RESP_ID,RGROUP,stream,trust_code,training_year,years_nhs\r\nS-001,1,1,RJ1,2,1\r\nS-002,2,2,RGT,9,8\r\n"
    path = write(tmp_path, rows.encode("cp1252"), name=f"review_{ROUND}.csv")
    ingest(run, tmp_path, path, expect=1)
    issues = read_issues(tmp_path / "run")
    errors = issues[issues.severity == "error"]
    assert errors.code.tolist() == ["F012"] and "did you mean 'RESP_ID'" in errors.message.iloc[0]


def test_ingest__unknown_csv__f007_suggests_a_mapping(run, tmp_path):
    path = write(tmp_path, b"Timestamp,What is your role?,Comments\r\n01/01/2026,Trainee,None\r\n",
                 name=f"forms_{ROUND}.csv")
    result = ingest(run, tmp_path, path, expect=1)
    issues = read_issues(tmp_path / "run")
    assert issues.code.tolist() == ["F007"] and "--mapping FILE" in issues.message[0]
    assert "--mapping" in result.stdout


def test_report__scale_scored_from_fewer_items__says_so():
    from trust_survey.report.tables import scores_section
    from trust_survey.review_cycle.scoring import unanswered_items

    likert = {f: 4 for f in ANSWERS if f.startswith(("ret_", "use_", "eq_"))}
    responses = pd.DataFrame([{**likert, "ret_offer": None}, {**likert, "ret_offer": -9}])
    responses = responses.drop(columns=[c for c in responses if c.startswith("eq_")])
    groups = pd.DataFrame({"group": ["trainee", "trainee"], "stream": ["gen", "gen"], "region": ["A", "A"]})
    scales = {s.id: s for s in IND.scales}
    gaps = unanswered_items(responses, IND)
    retention = next(s for s in scales.values() if "ret_offer" in s.items)
    equity = next(s for s in scales.values() if "eq_owed" in s.items)
    assert gaps[retention.id] == ["ret_offer"] and gaps[equity.id] == equity.items
    warnings = " ".join(scores_section(responses, groups, IND).warnings)
    assert f"is scored from {len(retention.items) - 1} of its {len(retention.items)} statements" in warnings
    assert f"{equity.label} ({equity.id}) could not be scored" in warnings


def test_platform_csv__archive_and_quarantine_hold_a_minimised_copy_and_a_redownload_is_a_duplicate(run, tmp_path):
    from trust_survey.common.hashing import sha256_file

    comments = ["Email jo.bloggs@nhs.net.example, or ring 07700 900123.", "NHS no. 943 476 5919; not 9434765918",
                "Fine"]
    path = write(tmp_path, export_text(comments, extra={"ret_plans": "Agree"}).encode("utf-8"))
    lines = path.read_bytes().split(b"\r\n")
    lines[3] = lines[3].replace(b",Agree,Strongly agree,", b",Agreed,Strongly agree,", 1)   # P-003 rejected
    path.write_bytes(b"\r\n".join(lines))
    db = tmp_path / "s.duckdb"
    ingest(run, tmp_path, path, expect=1)
    assert stored_comments(db) == ["Email [email removed], or ring [phone number removed].",
                                   "NHS no. [NHS number removed]; not 9434765918", "Fine"]
    issues = read_issues(tmp_path / "run")
    assert set(issues[issues.code == "P008"].message.str.extract(r"(phone number|NHS number)")[0]) == {
        "phone number", "NHS number"}
    files = query(db, "SELECT DISTINCT sha256, archive_path FROM submission_files")
    original = sha256_file(path)
    assert files.sha256.tolist() == [original]
    archived = Path(files.archive_path.iloc[0])
    assert archived.name == sha256_file(archived) != original and archived.parent.name == archived.name[:2]
    for copy in [archived, *(p for p in (tmp_path / "quarantine").glob("*.csv"))]:
        text = copy.read_text(encoding="utf-8")
        for secret in ("person1@example.org", "192.0.2.", "Recipient Email", "R_1", "jo.bloggs", "07700", "943 476"):
            assert secret not in text, (copy, secret)
        assert "Fine" in text and BY_FIELD["respondent_id"] in text
    quarantined = list((tmp_path / "quarantine").glob("*.csv"))
    assert len(quarantined) == 1 and quarantined[0].name.startswith(sha256_file(quarantined[0]))
    assert original in quarantined[0].with_name(quarantined[0].name + ".reason.txt").read_text(encoding="utf-8")
    again = run("ingest", path, "--db", db, "--out", tmp_path / "run2", "--engine", "pandas", expect=1)
    assert "already ingested" in again.stdout
    assert query(db, "SELECT count(*) AS n FROM submissions").n.iloc[0] == 3


def test_platform_csv__no_row_readable__file_findings_still_reported(run, tmp_path):
    id_column = BY_FIELD["respondent_id"]
    text = export_text(COMMENTS[:2]).replace("Response ID,", "Staff name,", 1)
    lines = text.split("\r\n")
    header = lines[0].split(",")
    at = header.index(field(id_column))
    for k in (1, 2):   # blank every respondent id
        cells = lines[k].split(",")
        cells[at] = ""
        lines[k] = ",".join(cells)
    path = write(tmp_path, "\r\n".join(lines).encode("utf-8"))
    ingest(run, tmp_path, path, expect=1)
    issues = read_issues(tmp_path / "run")
    assert issues.code.tolist().count("F012") == 2
    unknown = issues[issues.code == "P001"]
    assert unknown.column.tolist() == ["Staff name"] and "W032" in issues.code.tolist()
    assert nothing_stored(tmp_path / "s.duckdb")


@pytest.mark.parametrize("text, expected, kinds", [
    ("Write to jo.bloggs@nhs.net.", "Write to [email removed].", ["email address"]),
    ("(a.b+c@x.co.uk), then", "([email removed]), then", ["email address"]),
    ("Ring +44 (0)20 7946 0000 or 07700-900-123!", "Ring [phone number removed] or [phone number removed]!",
     ["phone number"]),
    ("NHS 943 476 5919 / 9434765919 / 943-476-5919",
     "NHS [NHS number removed] / [NHS number removed] / [NHS number removed]", ["NHS number"]),
    ("Ten digits failing the check: 9434765918", "Ten digits failing the check: 9434765918", []),
    ("Band 7 since 2019; 15 staff; 2.5 WTE", "Band 7 since 2019; 15 staff; 2.5 WTE", []),
])
def test_redact__emails_phones_nhs_numbers_and_nothing_else(text, expected, kinds):
    from trust_survey.common.redact import redact

    assert redact(text) == (expected, kinds)


def test_platform_mapping__optional_must_name_a_mapped_column(tmp_path):
    from trust_survey.errors import DefinitionError
    from trust_survey.ingest.platform_csv import load_mapping

    mapping = yaml.safe_load(MAPPING.read_text(encoding="utf-8"))
    mapping["optional"] = ["Q5 - Years in NHS"]
    path = tmp_path / "m.yaml"
    path.write_text(yaml.safe_dump(mapping, sort_keys=False), encoding="utf-8")
    with pytest.raises(DefinitionError) as err:
        load_mapping(path, IND)
    assert "optional: 'Q5 - Years in NHS' is not under columns; did you mean 'Q5 - Years worked in the NHS'?" in str(
        err.value)


def test_platform_csv__excel_unicode_text__tab_separated_utf16_stored_exactly(run, tmp_path):
    import csv
    import io

    text = export_text(COMMENTS)
    lines = []
    for record in csv.reader(io.StringIO(text, newline="")):
        lines.append("\t".join('"' + c.replace('"', '""') + '"' if any(ch in c for ch in '"\t\r\n') else c
                               for c in record))
    tabbed = "\r\n".join(lines) + "\r\n"
    path = write(tmp_path, tabbed.encode("utf-16"), name=f"export_{ROUND}.txt")
    ingest(run, tmp_path, path)
    assert stored_comments(tmp_path / "s.duckdb") == COMMENTS
