"""The labelled real-title corpus loads, and a row that breaks the label policy is a clear error."""
import hashlib

import pytest

from trust_survey.errors import InputFileError
from trust_survey.matching.corpus import DEFAULT_CORPUS, load_title_corpus

HEADER = "title,department,stream,relation,source,split,note\n"


def _write(tmp_path, body):
    path = tmp_path / "corpus.csv"
    path.write_text(HEADER + body, encoding="utf-8")
    return path


def test_load_title_corpus__shipped_corpus__loads_with_policy_labels():
    corpus = load_title_corpus(DEFAULT_CORPUS)
    assert len(corpus) >= 300
    assert set(corpus["split"]) == {"dev", "holdout"}
    assert ((corpus["stream"] == "none") == (corpus["relation"] == "none")).all()
    assert corpus["source"].str.strip().ne("").all()
    assert not corpus["title"].duplicated().any()


def test_load_title_corpus__titles_kept_as_written(tmp_path):
    path = _write(tmp_path, '"  Band 6 Junior Sister / Charge Nurse - Acute Medicine",Medicine,none,none,src,dev,\n'
                            "Head of Radiotherapy Physics,,physical_sciences,adjacent,src,holdout,\n")
    corpus = load_title_corpus(path)
    assert corpus["title"].tolist() == ["  Band 6 Junior Sister / Charge Nurse - Acute Medicine",
                                        "Head of Radiotherapy Physics"]
    assert corpus["line"].tolist() == [2, 3]


def test_load_title_corpus__unknown_stream__names_file_line_and_expected(tmp_path):
    path = _write(tmp_path, "Bioinformatician,,genomics,direct,src,dev,\n"
                            "Clinical Scientist (Genomics),,genomic,adjacent,src,dev,\n")
    with pytest.raises(InputFileError) as err:
        load_title_corpus(path)
    assert err.value.code == "IN010"
    text = str(err.value)
    assert str(path) in text
    assert "line 3: unknown stream 'genomic'; did you mean 'genomics'?" in text
    assert "expected one of genomics, health_informatics, physical_sciences, none" in text


@pytest.mark.parametrize("stream,relation,expected", [
    ("none", "adjacent", "line 2: relation 'adjacent' with stream 'none'"),
    ("health_informatics", "none", "line 2: relation 'none' with stream 'health_informatics'"),
    ("physical_sciences", "sideways", "line 2: unknown relation 'sideways'"),
])
def test_load_title_corpus__relation_contradicting_policy__is_an_error(tmp_path, stream, relation, expected):
    path = _write(tmp_path, f"Integration Analyst,,{stream},{relation},src,dev,\n")
    with pytest.raises(InputFileError) as err:
        load_title_corpus(path)
    assert err.value.code == "IN010"
    assert expected in str(err.value)


def test_load_title_corpus__every_bad_row_listed(tmp_path):
    path = _write(tmp_path, "A,,none,direct,src,dev,\nB,,genomics,none,src,dev,\nC,,none,none,,test,\n")
    with pytest.raises(InputFileError) as err:
        load_title_corpus(path)
    text = str(err.value)
    assert "4 row problem(s)" in text
    for fragment in ("line 2:", "line 3:", "line 4: unknown split 'test'", "line 4: the source is empty"):
        assert fragment in text


def test_load_title_corpus__missing_column__is_an_error(tmp_path):
    path = tmp_path / "corpus.csv"
    path.write_text("title,stream,source,split\nBioinformatician,genomics,src,dev\n", encoding="utf-8")
    with pytest.raises(InputFileError) as err:
        load_title_corpus(path)
    assert err.value.code == "IN011"
    assert "department, relation" in str(err.value)


def test_shipped_corpus__holdout_is_the_title_hash_third():
    """The split is fixed by each title's hash, so adding titles never moves one between dev and holdout."""
    corpus = load_title_corpus(DEFAULT_CORPUS)
    expected = ["holdout" if int(hashlib.sha256(t.strip().lower().encode()).hexdigest(), 16) % 3 == 0 else "dev"
                for t in corpus["title"]]
    assert corpus["split"].tolist() == expected
    assert 0.28 < (corpus["split"] == "holdout").mean() < 0.38
